import { Agent, request } from 'node:http'
import { PerformanceObserver, performance } from 'node:perf_hooks'

/*
 * The measuring client of the 504 lateness benchmark (bench/deadlines.ts),
 * in a process of its own: the benchmark's load generator and reports
 * would otherwise share its heap, and its collections delay what it
 * measures. Usage: lateness-client.ts <port> <warm-up requests> <counted
 * requests> <concurrency> <deadline ms>. Prints one line of JSON, a
 * LatenessSample.
 */

/** What GET /_lateness of a target answers: its figures since the last call. */
export interface ServerFigures { lateness: number[], gcPausesMs: number[] }

export interface LatenessSample {
  /** How late each counted answer reached the client after the deadline, in milliseconds. */
  client: number[]
  /** Pauses of this process's collections during the counted requests. */
  clientGcPausesMs: number[]
  /** Counted answers that were not a 504. */
  wrongStatus: number
  /** The server's figures from its start to the first counted request. */
  before: ServerFigures
  /** The server's figures for the counted requests. */
  server: ServerFigures
}

const [port, warmup, requests, concurrency, deadlineMs] = process.argv.slice(2).map(Number) as [number, number, number, number, number]
const agent = new Agent({ keepAlive: true, maxSockets: concurrency })

function get (path: string): Promise<{ status: number, body: string, elapsedMs: number }> {
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

async function serverFigures (): Promise<ServerFigures> {
  return JSON.parse((await get('/_lateness')).body) as ServerFigures
}

/** Sends `count` requests to /hang, `concurrency` at a time: each one's lateness, and how many were not 504s. */
async function hang (count: number): Promise<{ lateness: number[], wrongStatus: number }> {
  const lateness: number[] = []
  let wrongStatus = 0
  let issued = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (issued < count) {
      issued += 1
      const { status, elapsedMs } = await get('/hang')
      if (status !== 504) wrongStatus += 1
      lateness.push(elapsedMs - deadlineMs)
    }
  }))
  return { lateness, wrongStatus }
}

const pauses: Array<{ startTime: number, duration: number }> = []
const collections = new PerformanceObserver((entries) => {
  for (const { startTime, duration } of entries.getEntries()) pauses.push({ startTime, duration })
})
collections.observe({ entryTypes: ['gc'] })
await hang(warmup)
const before = await serverFigures()
const countedFrom = performance.now()
const counted = await hang(requests)
const countedUntil = performance.now()
const server = await serverFigures()
// An observer hears of a collection after it: the entries are read once the last request is in, by when they started.
await new Promise((resolve) => setImmediate(resolve))
collections.disconnect()
agent.destroy()
const clientGcPausesMs = pauses.filter(({ startTime }) => startTime >= countedFrom && startTime < countedUntil).map(({ duration }) => duration)
process.stdout.write(`${JSON.stringify({ client: counted.lateness, clientGcPausesMs, wrongStatus: counted.wrongStatus, before, server } satisfies LatenessSample)}\n`)
