import autocannon from 'autocannon'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { requestOptions } from '../harness.js'
import { costliestFunctions, perfMapOf, readPerfMap, removePerfMap } from './jit-functions.js'
import type { FunctionCost } from './jit-functions.js'
import { measureEach, targetSpec } from './target-spec.js'

/*
 * Development aid: instructions per request of a target's server, counted
 * by valgrind's callgrind. A busy machine changes how long an instruction
 * takes, not how many run, so this compares two versions of the code where
 * CPU time (cpu.ts) drowns in other processes' noise. Targets are given as
 * for cpu.ts (variant,setting,…); add calm=1 to the umbrella, or valgrind's
 * slowness sheds requests (calm=1 also keeps the error budgets' 10 s
 * evaluation out of the count: with 1,000 SLOs it added about 30k
 * instructions to every counted request). Node runs --single-threaded, so that V8's
 * compilation and GC happen on the counted thread, not at a time of their
 * own; one connection, so every request is a turn of the event loop of its
 * own. WARM requests (default 40000, in two rounds of CONNECTIONS
 * connections each) run before counting starts, COUNT (default 5000) are
 * counted on a third round's connections, dumped in CHUNKS parts; the
 * figures are the lowest part's, and every part's is listed.
 *
 * Two figures: all instructions, and those left after V8's optimising
 * compiler, the GC and the event-loop-delay histogram that
 * @fastify/under-pressure samples every 250 ms, which all scale with wall
 * time (stretched some 50× under valgrind) rather than with requests.
 * Other timers' work still does, so a busier machine adds a few percent:
 * compare versions run side by side. Needs valgrind; about a minute per
 * target. OUTBOUND=1 counts the targets of bench:dependencies instead
 * (plain, alone, policies; path /cost), against a downstream it starts,
 * whose own work is not counted. A spec may start with a kind of POST,
 * as for cpu.ts: replay:idempotency-memory (plain, first or replay).
 */
const outbound = process.env.OUTBOUND === '1'
const SERVE = fileURLToPath(new URL(outbound ? '../serve-dependencies.ts' : '../serve.ts', import.meta.url))
// The compiled library (dist/, from npm run build), as users run it.
const COMPILED = new URL('../compiled.mjs', import.meta.url).href
const path = process.env.BENCH_PATH ?? (outbound ? '/cost' : '/hello')
// 40,000: some hot functions reach V8's optimising tier late. With 15,000,
// the umbrella's chaos hook and Node's onParserExecuteCommon still ran in
// baseline code through the count (--trace-opt marks them hot during
// what would be the counted round), about 1,000 instructions per request.
const warm = Number(process.env.WARM ?? 40_000)
const count = Number(process.env.COUNT ?? 5000)
// Parts of the count, each dumped on its own (default 5).
const chunks = Number(process.env.CHUNKS ?? 5)
const perChunk = Math.ceil(count / chunks)
// CONNECTIONS>1 counts the requests as a saturated server meets them, several
// in one turn of the event loop, sharing what is done once per turn.
const connections = Number(process.env.CONNECTIONS ?? 1)
// KEEP=<directory> keeps each target's dump there, for callgrind_annotate
// to compare two targets function by function, with the perf map that
// names the generated code's addresses in it (callgrind shows them as hex).
const keep = process.env.KEEP
if (keep !== undefined) mkdirSync(keep, { recursive: true })
// FUNCTIONS=<n> lists the n JavaScript functions (Node's, Fastify's and the
// library's) that ran the most instructions of their own per request; with
// CACHE_SIM=1, also the n with the most last-level misses of their own.
const functions = Number(process.env.FUNCTIONS ?? 0)
// CACHE_SIM=1 also simulates the caches (callgrind's --cache-sim) and
// reports first-level and last-level data read misses per request: a
// layout change (fewer objects touched per request) shows there before it
// shows in instructions. The last-level cache is 1 MB, smaller than a
// server's, so that a working set that outgrows it on a busy machine, one
// shared with other processes, outgrows it here too; the first level is a
// common 32 kB, 8-way. Explicit sizes, not the host's, so that counts from
// two machines compare. Callgrind runs some 2× slower with it.
const cacheSim = process.env.CACHE_SIM === '1'
const CACHE_FLAGS = ['--cache-sim=yes', '--I1=32768,8,64', '--D1=32768,8,64', '--LL=1048576,16,64']
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Node's flags for the map that names its generated code; V8's log, which they also start, goes to `dir`. */
function perfMapFlags (dir: string): string[] {
  return ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(dir, 'v8.log')}`]
}
// The major GC's marking and evacuation are named by their visitors, not
// by MarkCompact: one that falls in the counted requests or not moved the
// umbrella's figure by 15 %.
const WALL_TIME_WORK = /compiler::|Compiler|Maglev|RegisterAllocator|InstructionSelector|Zone|Scaveng|Heap::|MarkCompact|Marking|MarkBit|Evacuat|MigratedSlot|LiveObjectRange|PointersUpdating|RememberedSet|StringTableCleaner|IterateObjectCache|FlushedBytecode|ShouldFlushCode|RelocIterator|SizeFromMap|Sweeper|hdr_|all_values_iter|memset/

/** Data read misses of a dump: first level (D1mr) and last level (DLmr), all and without the wall-time work. */
interface Misses {
  d1: number
  ll: number
  d1Work: number
  llWork: number
}

/** The compiler's and the samplers' work: wall-time work that the collector's call (below) does not hold. */
const WALL_TIME_OUTSIDE_GC = /compiler::|Compiler|Maglev|RegisterAllocator|InstructionSelector|Zone|hdr_|all_values_iter/

/**
 * A dump's data read misses, all and without the wall-time work. The
 * collector's are taken out by its call's inclusive cost, not by the names
 * of its functions as for instructions: a scavenge copies the survivors
 * with memcpy, which requests call too, and its misses (some 160 per
 * request in a chunk that held one) would count as the requests'.
 */
function missesOfWork (file: string, d1: number, ll: number): Misses {
  const text = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', '--show=D1mr,DLmr', '--sort=DLmr', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  const exclusive = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', '--show=D1mr,DLmr', '--sort=DLmr', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  const row = /^\s*([\d,.]+)(?: \([^)]*\))?\s+([\d,.]+)(?: \([^)]*\))?\s+(\S.*)$/
  const number = (text: string | undefined): number => text === '.' || text === undefined ? 0 : Number(text.replaceAll(',', ''))
  let d1Wall = 0
  let llWall = 0
  for (const line of text.split('\n')) {
    const match = row.exec(line)
    // The collector's entry: every collection, whatever started it, goes through it.
    if (match !== null && (match[3] ?? '').includes('v8::internal::Heap::CollectGarbage(')) {
      d1Wall += number(match[1])
      llWall += number(match[2])
    }
  }
  for (const line of exclusive.split('\n')) {
    const match = row.exec(line)
    if (match !== null && WALL_TIME_OUTSIDE_GC.test(match[3] ?? '') && !(match[3] ?? '').startsWith('PROGRAM TOTALS')) {
      d1Wall += number(match[1])
      llWall += number(match[2])
    }
  }
  return { d1, ll, d1Work: d1 - d1Wall, llWork: ll - llWall }
}

function annotate (file: string): { total: number, perRequestWork: number, costs: FunctionCost[], llCosts: FunctionCost[], misses?: Misses } {
  // With the cache simulation, three columns per line: Ir, D1mr, DLmr.
  const text = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', ...(cacheSim ? ['--show=Ir,D1mr,DLmr', '--sort=Ir'] : []), file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  let total = 0
  let wallTime = 0
  const totals = [0, 0]
  const costs: FunctionCost[] = []
  const llCosts: FunctionCost[] = []
  const columns = cacheSim ? 3 : 1
  const line = new RegExp(`^\\s*${Array.from({ length: columns }, () => '([\\d,.]+)(?: \\([^)]*\\))?').join('\\s+')}\\s+(\\S.*)$`)
  const number = (text: string | undefined): number => text === '.' || text === undefined ? 0 : Number(text.replaceAll(',', ''))
  for (const row of text.split('\n')) {
    const match = line.exec(row)
    if (match === null) continue
    const cost = number(match[1])
    const misses = cacheSim ? [number(match[2]), number(match[3])] : [0, 0]
    const name = match[columns + 1] ?? ''
    if (name.startsWith('PROGRAM TOTALS')) {
      total = cost
      totals.splice(0, 2, ...misses)
    } else if (WALL_TIME_WORK.test(name)) {
      wallTime += cost
    } else {
      costs.push({ name, cost })
      llCosts.push({ name, cost: misses[1] ?? 0 })
    }
  }
  const [d1 = 0, ll = 0] = totals
  const misses = cacheSim ? missesOfWork(file, d1, ll) : undefined
  return { total, perRequestWork: total - wallTime, costs, llCosts, ...(misses === undefined ? {} : { misses }) }
}

/**
 * Sends the counted requests in one run of the load generator (a new run
 * would count its connections' setup too) and dumps callgrind's counts,
 * which a dump resets, after each `perChunk` answers; requests in flight
 * at a dump (at most one per connection) fall on either side of it.
 */
async function countInChunks (options: autocannon.Options, pid: string): Promise<autocannon.Result> {
  return await new Promise((resolve, reject) => {
    let answered = 0
    const run = autocannon({ ...options, amount: perChunk * chunks }, (error, result) => {
      if (error !== null && error !== undefined) reject(error)
      else resolve(result)
    })
    run.on('response', () => {
      answered++
      if (answered % perChunk === 0) execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' })
    })
  })
}

async function measure (spec: string, downstream: string[]): Promise<string> {
  const { variant, settings: given, request } = targetSpec(spec, path)
  const settings = [...downstream, ...given]
  const dir = mkdtempSync(join(tmpdir(), 'instructions-'))
  const child = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', ...(cacheSim ? CACHE_FLAGS : []), `--callgrind-out-file=${join(dir, 'out')}`, process.execPath, ...(functions > 0 || keep !== undefined ? perfMapFlags(dir) : []), '--single-threaded', '--import', 'tsx', '--import', COMPILED, SERVE, variant, ...settings], { stdio: ['ignore', 'pipe', 'ignore'] })
  try {
    const [chunk] = await once(child.stdout, 'data') as [Buffer]
    const url = `http://127.0.0.1:${Number.parseInt(chunk.toString(), 10)}${request.path}`
    // Warmed in two rounds of as many connections as the count uses: code
    // optimised for one round's connection objects deoptimises when the
    // next round's arrive ("wrong map"), and the counted requests come on
    // connections of their own. Warmed in one round, the count took in
    // that re-optimisation as well: two fifths of bare Fastify's figure,
    // not the steady state. Warmed on one connection for a count on ten,
    // it still took in the re-optimisation for the ten new connections:
    // some 2,000 instructions per request of bare Fastify's figure and
    // 3,500 of the umbrella's.
    const options = { url, connections, ...requestOptions(request) }
    await autocannon({ ...options, amount: Math.ceil(warm / 2) })
    await autocannon({ ...options, amount: Math.ceil(warm / 2) })
    const pid = String(child.pid)
    execFileSync('callgrind_control', ['--instr=on', pid], { stdio: 'ignore' })
    const { non2xx } = await countInChunks(options, pid)
    execFileSync('callgrind_control', ['--instr=off', pid], { stdio: 'ignore' })
    child.kill('SIGKILL')
    await once(child, 'exit')
    // One dump per chunk, out.1 to out.<chunks>; out itself would be written at a clean exit only.
    const dumps = readdirSync(dir).filter((name) => /\.\d+$/.test(name)).sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()))
    if (dumps.length !== chunks) throw new Error(`callgrind wrote ${dumps.length} dumps for ${spec}, expected ${chunks}`)
    const counted = dumps.map((dump) => join(dir, dump)).map((file) => ({ file, ...annotate(file) }))
    // The chunk with the least work per request: one-off events only add
    // to a chunk's figure. Code deoptimised when a path first runs (the
    // error budget's ring opening its first new 10 s bucket after the
    // warm-up, in the umbrella's count), then run in a lower tier until
    // optimised again, added some 5,000 instructions per request to two
    // chunks of five, and about 2,000 to a count made in one piece.
    const lowest = counted.reduce((low, chunk) => chunk.perRequestWork < low.perRequestWork ? chunk : low)
    const { file, total, perRequestWork, costs, llCosts, misses } = lowest
    if (keep !== undefined) {
      const name = spec.replaceAll(/[^\w=.-]+/g, '_')
      copyFileSync(file, join(keep, `${name}.callgrind`))
      // The addresses of generated code in the dump, named.
      if (child.pid !== undefined) copyFileSync(perfMapOf(child.pid), join(keep, `${name}.perf.map`))
    }
    const perRequest = (cost: number): string => (cost / perChunk).toFixed(0)
    const spread = `chunks in order: ${counted.map((chunk) => perRequest(chunk.perRequestWork)).join(', ')}`
    const perRequestFine = (cost: number): string => (cost / perChunk).toFixed(1)
    // Misses are listed for every chunk, and the lowest of each kind over
    // them: a timer's or the collector's work in a chunk adds misses far
    // beyond its instructions (its objects are all cold), so the chunk of
    // fewest instructions is not always the one of fewest misses.
    const missesOf = (kind: 'd1Work' | 'llWork'): number[] => counted.map((chunk) => chunk.misses?.[kind] ?? 0)
    const missLine = (kind: 'd1Work' | 'llWork', name: string): string => `${name} ${perRequestFine(misses?.[kind] ?? 0)}, lowest ${perRequestFine(Math.min(...missesOf(kind)))} (${missesOf(kind).map(perRequestFine).join(', ')})`
    const cache = misses === undefined ? '' : `\n${''.padEnd(35)}data read misses/request without compiler, GC and sampling: ${missLine('d1Work', 'D1')}; ${missLine('llWork', 'LL')}; with them D1 ${perRequestFine(misses.d1)}, LL ${perRequestFine(misses.ll)}`
    const summary = `${spec.padEnd(34)} ${perRequest(total).padStart(8)} instructions/request, ${perRequest(perRequestWork).padStart(8)} without compiler, GC and sampling (${spread})${cache}${non2xx > 0 ? ` (${non2xx} non-2xx: shed? try calm=1)` : ''}`
    if (functions === 0) return summary
    const ranges = readPerfMap(child.pid ?? 0)
    // Misses are a few per request: listed per 100 requests, so that the fractions show.
    const missing = misses === undefined ? [] : ['last-level data read misses per 100 requests:', ...costliestFunctions(llCosts, ranges, perChunk / 100, functions, ROOT)]
    return [summary, ...costliestFunctions(costs, ranges, perChunk, functions, ROOT), ...missing].join('\n')
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    if (child.pid !== undefined) removePerfMap(child.pid)
  }
}

await measureEach(SERVE, outbound, measure)
