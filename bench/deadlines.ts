import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { compare, formatRow, startTarget } from './harness.js'

// Deadline cost on hello-world against bare Fastify in the same run, then
// precision: how late after a 50 ms deadline the 504 reaches the client,
// over 1,000 requests at light load (10 at a time).
const ROUNDS = 3
const SECONDS = 3
const DEADLINE_MS = 50
const REQUESTS = 1000
const WARMUP = 300
const CONCURRENCY = 10

console.log('| scenario | bare Fastify | with deadlines | ratio | p99 (with) |')
console.log('| --- | --- | --- | --- | --- |')
console.log(formatRow('hello-world 200', await compare('bare', 'deadlines', '/hello', ROUNDS, SECONDS)))

interface Lateness { p50: number, p99: number, max: number, wrongStatus: number }

/** Sends WARMUP + REQUESTS requests to /hang, CONCURRENCY at a time, and measures how late after 50 ms each 504 arrives. */
async function measureLateness (variant: string): Promise<Lateness> {
  const target = await startTarget(variant)
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  const timedRequest = (): Promise<{ status: number, elapsedMs: number }> => new Promise((resolve, reject) => {
    const startedAt = performance.now()
    const req = request({ host: '127.0.0.1', port: target.port, path: '/hang', agent }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, elapsedMs: performance.now() - startedAt }))
    })
    req.on('error', reject)
    req.end()
  })
  try {
    const lateness: number[] = []
    let wrongStatus = 0
    let issued = -WARMUP
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (issued < REQUESTS) {
        const counted = issued >= 0
        issued += 1
        const { status, elapsedMs } = await timedRequest()
        if (!counted) continue
        if (status !== 504) wrongStatus += 1
        lateness.push(elapsedMs - DEADLINE_MS)
      }
    }))
    lateness.sort((a, b) => a - b)
    const at = (quantile: number): number => lateness[Math.min(lateness.length - 1, Math.floor(quantile * lateness.length))] ?? Number.NaN
    return { p50: at(0.5), p99: at(0.99), max: at(1), wrongStatus }
  } finally {
    agent.destroy()
    await target.stop()
  }
}

console.log(`\n504 lateness after a ${DEADLINE_MS} ms deadline (${REQUESTS} requests after ${WARMUP} to warm up, ${CONCURRENCY} at a time):\n`)
console.log('| server | p50 | p99 | max | non-504 |')
console.log('| --- | --- | --- | --- | --- |')
for (const [name, variant] of [['bare Fastify, plain 50 ms timer then 504', 'bare'], ['deadlines plugin, handler never answers', 'deadlines']] as const) {
  const result = await measureLateness(variant)
  console.log(`| ${name} | ${result.p50.toFixed(2)} ms | ${result.p99.toFixed(2)} ms | ${result.max.toFixed(2)} ms | ${result.wrongStatus} |`)
}
