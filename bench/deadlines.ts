import { Agent, request } from 'node:http'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { COMPARISON_COLUMNS, compare, comparisonRow, load, startTarget } from './harness.js'
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

const report = new Report('deadlines', 'npm run bench:deadlines')
const cost = report.table('Deadlines alone (with problem details and metrics) against bare Fastify', COMPARISON_COLUMNS)
cost.row(comparisonRow('hello-world 200', await compare('bare', 'deadlines', '/hello', ROUNDS, SECONDS)))
cost.end()

interface Quantiles { p50: number, p99: number, max: number }
/** Garbage collections during the counted requests: how many, and the longest pause. */
interface Collections { count: number, longestMs: number }
interface Lateness { client: Quantiles, server: Quantiles, clientGc: Collections, serverGc: Collections, wrongStatus: number }

function collections (pausesMs: readonly number[]): Collections {
  return { count: pausesMs.length, longestMs: Math.max(0, ...pausesMs) }
}

function quantiles (values: number[]): Quantiles {
  values.sort((a, b) => a - b)
  const at = (quantile: number): number => values[Math.min(values.length - 1, Math.floor(quantile * values.length))] ?? Number.NaN
  return { p50: at(0.5), p99: at(0.99), max: at(1) }
}

function get (port: number, path: string, agent: Agent): Promise<{ status: number, body: string, elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now()
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, elapsedMs: performance.now() - startedAt }))
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * Sends WARMUP + REQUESTS requests to /hang, CONCURRENCY at a time;
 * lateness after 50 ms seen by the client and by the server. Hello-world
 * load runs first, so that the young objects start-up leaves behind are
 * promoted (a long collection that a server pays once) before counting
 * begins rather than during it.
 */
async function measureLateness (variant: string): Promise<Lateness> {
  const target = await startTarget(variant, ['lateness=1'])
  await load(`http://127.0.0.1:${target.port}`, HEAP_WARMUP_SECONDS, { path: '/hello' }, CONCURRENCY)
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  // This process measures the client's side: its own collections delay what it sees too.
  const clientPausesMs: number[] = []
  let counting = false
  const clientCollections = new PerformanceObserver((entries) => {
    if (counting) for (const entry of entries.getEntries()) clientPausesMs.push(entry.duration)
  })
  clientCollections.observe({ entryTypes: ['gc'] })
  try {
    const client: number[] = []
    let wrongStatus = 0
    let issued = -WARMUP
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (issued < REQUESTS) {
        const counted = issued >= 0
        if (issued === 0) {
          // The warm-up is over: the server's figures start from here.
          issued += 1
          await get(target.port, '/_lateness', agent)
          counting = true
        } else {
          issued += 1
        }
        const { status, elapsedMs } = await get(target.port, '/hang', agent)
        if (!counted) continue
        if (status !== 504) wrongStatus += 1
        client.push(elapsedMs - DEADLINE_MS)
      }
    }))
    counting = false
    const serverSide = JSON.parse((await get(target.port, '/_lateness', agent)).body) as { lateness: number[], gcPausesMs: number[] }
    return { client: quantiles(client), server: quantiles(serverSide.lateness), clientGc: collections(clientPausesMs), serverGc: collections(serverSide.gcPausesMs), wrongStatus }
  } finally {
    clientCollections.disconnect()
    agent.destroy()
    await target.stop()
  }
}

const f = (value: number): string => `${value.toFixed(2)} ms`
const precision = report.table(`504 lateness after a ${DEADLINE_MS} ms deadline (${REQUESTS} requests after ${HEAP_WARMUP_SECONDS} s of hello-world load and ${WARMUP} to warm up, ${CONCURRENCY} at a time; server: from arrival to the end of the write, inside the server process; client: from sending to the end of the answer)`,
  ['server', 'run', 'server p50', 'server p99', 'client p50', 'client p99', 'client max', 'GCs (server, client)', 'longest GC pause (server, client)', 'non-504'])
for (let run = 1; run <= RUNS; run++) {
  for (const [name, variant] of [['bare Fastify, plain 50 ms timer then 504', 'bare'], ['deadlines plugin, handler never answers', 'deadlines'], ['every capability, handler never answers', 'umbrella']] as const) {
    const result = await measureLateness(variant)
    precision.row([name, String(run), f(result.server.p50), f(result.server.p99), f(result.client.p50), f(result.client.p99), f(result.client.max), `${result.serverGc.count}, ${result.clientGc.count}`, `${f(result.serverGc.longestMs)}, ${f(result.clientGc.longestMs)}`, String(result.wrongStatus)])
    if (variant !== 'bare') {
      const worst = Math.max(result.server.p99, result.client.p99)
      report.target(`504 lateness p99, ${variant}, run ${run}`, `≤ ${TARGET_MS} ms (server and client)`, `server ${f(result.server.p99)}, client ${f(result.client.p99)} (longest GC pause: server ${f(result.serverGc.longestMs)}, client ${f(result.clientGc.longestMs)})`, worst <= TARGET_MS)
    }
  }
}
precision.note('The first row is the floor of the method: bare Fastify answering 504 after a plain 50 ms setTimeout. The client figure minus the server figure is the time spent in the measuring client and on the loopback. V8 stops the whole server for each garbage collection, so a 504 due during one leaves late by up to its pause, with or without the library; with ten requests in flight a single pause reaches the p99. The GC columns count the collections of the server and of the measuring client (this process) during the counted requests. The first collections after start promote what start-up left behind, a pause a server pays once (without the hello-world load first, the longest pause during the counted requests was 5 to 7 ms for bare Fastify and 14 to 16 ms with the library loaded): the hello-world load before the warm-up has them happen before counting starts.')
precision.end()
