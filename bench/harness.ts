import autocannon from 'autocannon'
import { Agent, request } from 'node:http'
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'

export interface Measurement {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  non2xx: number
}

const SERVE = fileURLToPath(new URL('./serve.ts', import.meta.url))
/** Loaded by every target: it runs the compiled library (dist/), as users do. */
const COMPILED = new URL('./compiled.mjs', import.meta.url).href

/*
 * Pinned: on a machine with two or more cores, targets run on core 0 and
 * the load generator on core 1, so neither steals the other's time slices;
 * this takes most of the noise out of a same-run comparison. Unpinned:
 * server and load generator share every core, as in most containers.
 */
export type Placement = 'pinned' | 'unpinned'

function setAffinity (cores: string): boolean {
  try {
    execFileSync('taskset', ['-p', '-c', cores, String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
const allCores = `0-${Math.max(0, availableParallelism() - 1)}`
export const canPin = availableParallelism() >= 2 && setAffinity(allCores)
let placement: Placement = 'unpinned'

/** Moves the load generator (this process) and the targets started from now on. */
export function place (next: Placement): Placement {
  placement = next === 'pinned' && canPin ? 'pinned' : 'unpinned'
  if (canPin) setAffinity(placement === 'pinned' ? '1' : allCores)
  return placement
}
// Pinned unless BENCH_PLACEMENT=unpinned.
place(process.env.BENCH_PLACEMENT === 'unpinned' ? 'unpinned' : 'pinned')

export function currentPlacement (): Placement {
  return placement
}

// Targets never outlive the benchmark, even one stopped half-way.
const running = new Set<ChildProcess>()
process.once('exit', () => { for (const child of running) child.kill('SIGKILL') })

/** Starts a benchmark target in a child process and resolves its port and a stop function. */
export async function startTarget (variant: string, settings: readonly string[] = [], nodeFlags: readonly string[] = [], serve = SERVE): Promise<{ port: number, pid: number, stop: () => Promise<void> }> {
  const command = [process.execPath, ...nodeFlags, '--import', 'tsx', '--import', COMPILED, serve, variant, ...settings]
  const child = placement === 'pinned'
    ? spawn('taskset', ['-c', '0', ...command], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(command[0] ?? process.execPath, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
  running.add(child)
  child.once('exit', () => running.delete(child))
  const [chunk] = await once(child.stdout, 'data') as [Buffer]
  const port = Number.parseInt(chunk.toString(), 10)
  if (!Number.isInteger(port)) throw new TypeError(`benchmark target ${variant} printed no port: ${chunk.toString()}`)
  return {
    port,
    // taskset execs the target: the pid is the server's either way.
    pid: child.pid ?? 0,
    stop: async () => {
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    },
  }
}

/**
 * CPU time (user + system) a process has used, in milliseconds, from
 * /proc; undefined where there is no /proc. Per request, it is what a
 * busy machine blurs least, and what still tells the server's cost when
 * the load generator, not the server, sets the pace.
 */
export function processCpuMs (pid: number): number | undefined {
  try {
    const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

/** What each benchmark request looks like; a plain path means GET. */
export interface LoadRequest {
  path: string
  method?: 'GET' | 'POST'
  body?: string
  headers?: Record<string, string>
  /** Give every request its own Idempotency-Key (first-time requests). */
  uniqueIdempotencyKey?: boolean
  /** Cycle through these paths instead of `path` (GET). */
  paths?: readonly string[]
}

let sequence = 0

/** What autocannon is told to send for `request` (method, headers, body, a new key each time). */
export function requestOptions (request: LoadRequest): Partial<autocannon.Options> {
  return {
    method: request.method ?? 'GET',
    headers: request.headers ?? {},
    ...(request.body === undefined ? {} : { body: request.body }),
    ...(request.uniqueIdempotencyKey === true
      ? { requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, 'idempotency-key': `bench-${process.pid}-${++sequence}` } }) }] }
      : {}),
    ...(request.paths === undefined ? {} : { requests: request.paths.map((path) => ({ path, method: 'GET' as const })) }),
  }
}

/** GETs that cycle through the routes /r/0 … /r/count-1 that a target's routes=count setting adds. */
export function spreadOverRoutes (count: number): LoadRequest {
  return { path: '/r/0', paths: Array.from({ length: count }, (_, i) => `/r/${i}`) }
}

/**
 * A POST of a small JSON body to `path`: plain (no key), first (a new
 * Idempotency-Key on every request) or replay (one key every time).
 */
export function postRequest (kind: string, path = '/orders'): LoadRequest {
  if (kind !== 'plain' && kind !== 'first' && kind !== 'replay') throw new TypeError(`expected plain, first or replay, instead got ${kind}`)
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(kind === 'replay' ? { 'idempotency-key': `${kind}-${process.pid}` } : {}) }
  return { path, method: 'POST', body: JSON.stringify({ sku: 7, quantity: 1 }), headers, uniqueIdempotencyKey: kind === 'first' }
}

export async function load (url: string, durationSeconds: number, request: LoadRequest = { path: '' }, connections = 50): Promise<Measurement> {
  const result = await autocannon({
    url,
    connections,
    duration: durationSeconds,
    pipelining: 1,
    ...requestOptions(request),
  })
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
  }
}

export interface Comparison {
  baseline: Measurement
  candidate: Measurement
  ratio: number
  /** The ratio of each round (candidate over the baseline of the same round): the spread. */
  roundRatios: number[]
  placement: Placement
  /** Server CPU per request, median over the rounds, in microseconds (undefined without /proc). */
  cpuMicros?: { baseline: number, candidate: number }
  /** Each round's baseline CPU per request over the candidate's, the two measured one after the other. */
  cpuRoundRatios?: number[]
  /** The load generator's sleeps per answered request, median over the rounds ({@link RoundFigures}). */
  generatorSleeps?: { baseline: number, candidate: number }
}

/**
 * A load run against one running target, with the target's CPU time per
 * answered request over it, in microseconds (undefined without /proc, or
 * when nothing was answered), and how often the load generator slept per
 * answered request ({@link RoundFigures}).
 */
export async function costedLoad (target: { port: number, pid: number }, seconds: number, request: LoadRequest): Promise<RoundFigures> {
  const before = processCpuMs(target.pid)
  const sleptBefore = process.resourceUsage().voluntaryContextSwitches
  const measurement = await load(`http://127.0.0.1:${target.port}${request.path}`, seconds, request)
  const after = processCpuMs(target.pid)
  const slept = process.resourceUsage().voluntaryContextSwitches - sleptBefore
  const answered = measurement.requestsPerSecond * seconds
  return {
    measurement,
    cpuMicros: before === undefined || after === undefined || answered <= 0 ? undefined : (after - before) * 1000 / answered,
    generatorSleeps: answered <= 0 ? undefined : slept / answered,
  }
}

/**
 * A target: a variant of serve.ts and its settings (`routes=1000`, …);
 * `serve` runs another copy of serve.ts (another checkout's, to compare
 * two versions of the library).
 */
export type TargetSpec = string | { variant: string, settings: readonly string[], serve?: string }

function specOf (target: TargetSpec): { variant: string, settings: readonly string[], serve?: string } {
  return typeof target === 'string' ? { variant: target, settings: [] } : target
}

/** One target's figures in one round: the load run, and the server's CPU per answered request. */
export interface RoundFigures {
  measurement: Measurement
  cpuMicros: number | undefined
  /**
   * The load generator's sleeps per answered request: voluntary context
   * switches of this process, where autocannon runs. Each answer that
   * finds it asleep costs the server a wakeup of its core (an
   * interrupt, several microseconds in a VM), counted in the server's CPU
   * time: where the generator slept more often for one target than for
   * another, part of their difference in CPU is those wakeups.
   */
  generatorSleeps: number | undefined
}

/** A target and what is sent to it. */
export interface LoadedTarget {
  target: TargetSpec
  request: LoadRequest
}

/**
 * Measures several targets in rounds, after a warm-up: each round runs
 * every target once, one after the other, in the given order and in
 * reverse order every other round, so that a change in the machine's
 * speed during a round falls on both ends of the order alike. Returns
 * each target's rounds, in the order of `targets`.
 */
export async function measureInRounds (targets: readonly LoadedTarget[], rounds: number, seconds: number): Promise<RoundFigures[][]> {
  if (rounds < 1) throw new RangeError('rounds must be at least 1')
  const measured: Array<{ server: Awaited<ReturnType<typeof startTarget>>, request: LoadRequest, figures: RoundFigures[] }> = []
  try {
    for (const { target, request } of targets) {
      const spec = specOf(target)
      measured.push({ server: await startTarget(spec.variant, spec.settings, [], spec.serve), request, figures: [] })
    }
    for (const { server, request } of measured) await load(`http://127.0.0.1:${server.port}${request.path}`, 2, request)
    for (let round = 0; round < rounds; round++) {
      for (const { server, request, figures } of round % 2 === 0 ? measured : [...measured].reverse()) figures.push(await costedLoad(server, seconds, request))
    }
    return measured.map(({ figures }) => figures)
  } finally {
    for (const { server } of measured) await server.stop()
  }
}

/** Each side's median of a figure over its rounds (rounds without it left out), or undefined where a side has none. */
function sideMedians (baseline: readonly RoundFigures[], candidate: readonly RoundFigures[], figure: (round: RoundFigures) => number | undefined): { baseline: number, candidate: number } | undefined {
  const base = baseline.flatMap((round) => figure(round) ?? [])
  const cand = candidate.flatMap((round) => figure(round) ?? [])
  return base.length > 0 && cand.length > 0 ? { baseline: median(base), candidate: median(cand) } : undefined
}

/** Two targets' rounds, measured by {@link measureInRounds}, as a comparison: round by round, and each side's best round. */
export function comparisonOf (baseline: readonly RoundFigures[], candidate: readonly RoundFigures[]): Comparison {
  const best = (rounds: readonly RoundFigures[]): Measurement => rounds.map((round) => round.measurement).reduce((a, b) => b.requestsPerSecond > a.requestsPerSecond ? b : a)
  const roundRatios = candidate.map((round, index) => round.measurement.requestsPerSecond / (baseline[index]?.measurement.requestsPerSecond ?? Number.NaN))
  const comparison: Comparison = { baseline: best(baseline), candidate: best(candidate), ratio: best(candidate).requestsPerSecond / best(baseline).requestsPerSecond, roundRatios, placement }
  const cpu = sideMedians(baseline, candidate, (round) => round.cpuMicros)
  if (cpu !== undefined) comparison.cpuMicros = cpu
  const cpuRoundRatios = candidate.flatMap((round, index) => {
    const base = baseline[index]?.cpuMicros
    return base === undefined || round.cpuMicros === undefined ? [] : [base / round.cpuMicros]
  })
  if (cpuRoundRatios.length > 0) comparison.cpuRoundRatios = cpuRoundRatios
  const sleeps = sideMedians(baseline, candidate, (round) => round.generatorSleeps)
  if (sleeps !== undefined) comparison.generatorSleeps = sleeps
  return comparison
}

/**
 * Measures a path on two targets in rounds (see {@link measureInRounds})
 * and keeps each side's best round: alternating spreads drift in machine
 * load over both sides, the best round filters stalls.
 */
export async function compare (baseline: TargetSpec, candidate: TargetSpec, target: string | LoadRequest, rounds: number, seconds: number): Promise<Comparison> {
  const request = typeof target === 'string' ? { path: target } : target
  const [base = [], cand = []] = await measureInRounds([{ target: baseline, request }, { target: candidate, request }], rounds, seconds)
  return comparisonOf(base, cand)
}

export function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

/**
 * Baseline CPU per request over the candidate's: the throughput ratio a
 * server-bound run would show. The median of the rounds' own ratios: the
 * two sides of a round run in the same round, so a change in the
 * machine's speed between rounds moves both alike and leaves their ratio.
 */
export function cpuRatio (result: Comparison): number | undefined {
  return result.cpuRoundRatios === undefined ? undefined : median(result.cpuRoundRatios)
}

/** What a target is judged on: the lower of the throughput ratio and, where it was measured, the CPU ratio. */
export function judgedRatio (ratio: number, cpu: number | undefined): number {
  return Math.min(ratio, cpu ?? ratio)
}

export function rate (value: number): string {
  return `${Math.round(value).toLocaleString('en-US')} req/s`
}

/**
 * A ratio as a target row shows it: cut, not rounded, to two decimals, so
 * that 0.898 against an aim of 0.90 reads 0.89×, not a met-looking 0.90×.
 * (The small epsilon keeps 0.29, stored as 0.28999…, at 0.29.)
 */
export function ratioText (value: number): string {
  return `${(Math.floor(value * 100 + 1e-9) / 100).toFixed(2)}×`
}

/** What a throughput target measured: the ratio, and where it counts the server's CPU per request ratio. */
export function measuredRatios (ratio: number, cpu: number | undefined): string {
  return cpu === undefined ? ratioText(ratio) : `${ratioText(ratio)} throughput, ${ratioText(cpu)} server CPU per request`
}

/** "0.91–0.95×": the lowest and highest ratio of single rounds. */
export function spread (ratios: readonly number[]): string {
  if (ratios.length === 0) return '—'
  return `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`
}

export const COMPARISON_COLUMNS = ['scenario', 'baseline', 'candidate', 'ratio (best rounds)', 'per-round ratios', 'server CPU per request (baseline → candidate, medians of the rounds; ratio: median of the rounds\' ratios)', 'load generator asleep per answer (baseline → candidate, medians of the rounds)', 'p99 (candidate)', 'non-2xx (candidate, best round)', 'placement']

export function comparisonRow (name: string, result: Comparison): string[] {
  const cpu = result.cpuMicros === undefined ? '—' : `${result.cpuMicros.baseline.toFixed(1)} → ${result.cpuMicros.candidate.toFixed(1)} µs (${(cpuRatio(result) ?? Number.NaN).toFixed(2)}×)`
  const sleeps = result.generatorSleeps === undefined ? '—' : `${result.generatorSleeps.baseline.toFixed(2)} → ${result.generatorSleeps.candidate.toFixed(2)}`
  return [name, rate(result.baseline.requestsPerSecond), rate(result.candidate.requestsPerSecond), `${result.ratio.toFixed(2)}×`, spread(result.roundRatios), cpu, sleeps, `${result.candidate.p99Ms} ms`, String(result.candidate.non2xx), result.placement]
}

/** GET /_stats of a target started with stats=1, on a connection of its own (the load's agents stay out of it). */
export function targetStats<T> (port: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const agent = new Agent()
    const req = request({ host: '127.0.0.1', port, path: '/_stats', agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => {
        agent.destroy()
        resolve(JSON.parse(body) as T)
      })
    })
    req.on('error', reject)
    req.end()
  })
}
