import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { COMPARISON_COLUMNS, compare, comparisonRow, load, startTarget } from './harness.js'
import type { LatenessSample } from './lateness-client.js'
import { Report } from './report.js'

// Deadline cost on hello-world against bare Fastify in the same run, then
// precision: how late after a 50 ms deadline the 504 leaves the server
// (measured inside it) and reaches the client, over 1,000 requests at
// light load (10 at a time), in several runs.
const ROUNDS = 3
const SECONDS = 3
const DEADLINE_MS = 50
const REQUESTS = 1000
const WARMUP = 300
const CONCURRENCY = 10
const RUNS = 3
/** Seconds of hello-world load that settle the server's heap before the lateness warm-up. */
const HEAP_WARMUP_SECONDS = 2
const TARGET_MS = 10
const CLIENT = fileURLToPath(new URL('lateness-client.ts', import.meta.url))

const report = new Report('deadlines', 'npm run bench:deadlines')
const cost = report.table('Deadlines alone (with problem details and metrics) against bare Fastify', COMPARISON_COLUMNS)
cost.row(comparisonRow('hello-world 200', await compare('bare', 'deadlines', '/hello', ROUNDS, SECONDS)))
cost.end()

interface Quantiles { p50: number, p99: number, max: number }
/** Garbage collections: how many, and the longest pause (undefined when there was none). */
interface Collections { count: number, longestMs: number | undefined }
interface Lateness {
  client: Quantiles
  server: Quantiles
  /** The server's collections from its start to the first counted request. */
  serverGcBefore: Collections
  serverGc: Collections
  clientGc: Collections
  wrongStatus: number
}

function collections (pausesMs: readonly number[]): Collections {
  return { count: pausesMs.length, longestMs: pausesMs.length === 0 ? undefined : Math.max(...pausesMs) }
}

function quantiles (values: number[]): Quantiles {
  values.sort((a, b) => a - b)
  const at = (quantile: number): number => values[Math.min(values.length - 1, Math.floor(quantile * values.length))] ?? Number.NaN
  return { p50: at(0.5), p99: at(0.99), max: at(1) }
}

/** Runs the measuring client (bench/lateness-client.ts) against `port` and reads its sample. */
async function sampleLateness (port: number): Promise<LatenessSample> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLIENT, String(port), String(WARMUP), String(REQUESTS), String(CONCURRENCY), String(DEADLINE_MS)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => { output += chunk })
  const [code] = await once(child, 'exit') as [number | null]
  if (code !== 0) throw new Error(`the lateness client exited with ${String(code)}`)
  return JSON.parse(output) as LatenessSample
}

/**
 * Lateness after the deadline of REQUESTS requests to /hang, seen by the
 * client and by the server, with the garbage collections of each. Before
 * them: hello-world load, during which the first collections after start
 * promote what start-up left behind (a long pause that a server pays
 * once, reported apart), then WARMUP requests to /hang.
 */
async function measureLateness (variant: string): Promise<Lateness> {
  const target = await startTarget(variant, ['lateness=1'])
  try {
    const heapWarmup = await load(`http://127.0.0.1:${target.port}/hello`, HEAP_WARMUP_SECONDS, { path: '/hello' }, CONCURRENCY)
    if (heapWarmup.non2xx > 0) throw new Error(`${variant}: ${heapWarmup.non2xx} hello-world answers were not 2xx during the heap warm-up`)
    const sample = await sampleLateness(target.port)
    return {
      client: quantiles(sample.client),
      server: quantiles(sample.server.lateness),
      serverGcBefore: collections(sample.before.gcPausesMs),
      serverGc: collections(sample.server.gcPausesMs),
      clientGc: collections(sample.clientGcPausesMs),
      wrongStatus: sample.wrongStatus,
    }
  } finally {
    await target.stop()
  }
}

const f = (value: number): string => `${value.toFixed(2)} ms`
/** The longest pause, or a dash when there was no collection. */
const longest = ({ longestMs }: Collections): string => longestMs === undefined ? '—' : f(longestMs)
const precision = report.table(`504 lateness after a ${DEADLINE_MS} ms deadline (${REQUESTS} requests, ${CONCURRENCY} at a time, after ${HEAP_WARMUP_SECONDS} s of hello-world load and ${WARMUP} requests to warm up; server: from arrival to the end of the write, inside the server process; client: from sending to the end of the answer)`,
  ['server', 'run', 'server p50', 'server p99', 'client p50', 'client p99', 'client max', 'GCs (server, client)', 'longest GC pause (server, client)', 'longest GC pause before counting (server)', 'non-504'])
for (let run = 1; run <= RUNS; run++) {
  for (const [name, variant] of [['bare Fastify, plain 50 ms timer then 504', 'bare'], ['deadlines plugin, handler never answers', 'deadlines'], ['every capability, handler never answers', 'umbrella']] as const) {
    const result = await measureLateness(variant)
    precision.row([name, String(run), f(result.server.p50), f(result.server.p99), f(result.client.p50), f(result.client.p99), f(result.client.max), `${result.serverGc.count}, ${result.clientGc.count}`, `${longest(result.serverGc)}, ${longest(result.clientGc)}`, longest(result.serverGcBefore), String(result.wrongStatus)])
    if (variant !== 'bare') {
      const worst = Math.max(result.server.p99, result.client.p99)
      report.target(`504 lateness p99, ${variant}, run ${run}`, `≤ ${TARGET_MS} ms (server and client)`, `server ${f(result.server.p99)}, client ${f(result.client.p99)} (longest GC pause: server ${longest(result.serverGc)}, client ${longest(result.clientGc)})`, worst <= TARGET_MS)
    }
  }
}
precision.note('The first row is the floor of the method: bare Fastify answering 504 after a plain 50 ms setTimeout. The client figure minus the server figure is the time spent in the measuring client and on the loopback. V8 stops the event loop for each garbage collection, so a 504 due during one leaves late by up to its pause, with or without the library; with ten requests in flight a single pause reaches the p99. The client runs in a process of its own; the GC columns give the collections of the server and of the client during the counted requests. The first collections after start promote what start-up left behind: a long pause that a server pays once, which the hello-world load brings forward, before counting starts. The last column shows it: the longest pause of the server from its start to the first counted request.')
precision.end()
