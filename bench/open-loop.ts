import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'

export interface OpenLoopResult {
  /** 2xx answers received per second during the measured part. */
  goodput: number
  /**
   * p99 latency of the requests due in the measured part that were not
   * refused, from the moment each was due; a request still unanswered when
   * the run ends counts with the time it had waited so far.
   */
  p99Ms: number
  /** p50 latency of the same requests. */
  p50Ms: number
  /** Requests still unanswered when the run ended. */
  unanswered: number
  sent: number
  ok: number
  shed: number
  errors: number
  /** Answers with a status in `expected`. */
  expected: number
}

export interface OpenLoopOptions {
  url: string
  /** Requests per second, issued at evenly spaced instants. */
  rate: number
  seconds: number
  /** Answers to requests issued in the first `skipSeconds` are not counted (warm-up). */
  skipSeconds: number
  /** Open connections at most; requests beyond them wait on the client, and that wait counts. */
  connections: number
  /** GET unless given. */
  method?: 'GET' | 'POST'
  body?: string
  /** Headers of each request; a function gives each its own (an Idempotency-Key). */
  headers?: Record<string, string> | (() => Record<string, string>)
  /** Statuses counted as expected answers besides 2xx (a 504 from a route that is meant to time out). */
  expected?: readonly number[]
  /**
   * Keep-alive connections that outlive the run (the caller destroys the
   * agent), as a load balancer's do; the agent's own limit then replaces
   * `connections`. Without it, the run opens its own and closes them at
   * the end.
   */
  agent?: Agent
}

/*
 * A fixed arrival rate, which autocannon's rate option is not: it lets each
 * connection send its quota at the start of every second, so the load
 * arrives in bursts. Here requests are due at evenly spaced instants
 * whether or not earlier ones were answered, and latency is measured from
 * the instant a request was due, so a server that falls behind is charged
 * for the whole delay (no coordinated omission).
 */
export async function openLoop (options: OpenLoopOptions): Promise<OpenLoopResult> {
  const agent = options.agent ?? new Agent({ keepAlive: true, maxSockets: options.connections })
  const latencies: number[] = []
  const counts = { sent: 0, shed: 0, errors: 0, expected: 0 }
  const expected = new Set(options.expected ?? [])
  const waiting = new Set<number>()
  let okInWindow = 0
  const startedAt = performance.now()
  const total = Math.floor(options.rate * options.seconds)
  const pending: Array<Promise<void>> = []
  const requests = new Set<ReturnType<typeof request>>()
  let issued = 0

  const send = (dueAt: number): Promise<void> => new Promise((resolve) => {
    const counted = dueAt - startedAt >= options.skipSeconds * 1000
    if (counted) {
      counts.sent++
      waiting.add(dueAt)
    }
    const headers = typeof options.headers === 'function' ? options.headers() : options.headers
    const req = request(options.url, { agent, method: options.method ?? 'GET', ...(headers === undefined ? {} : { headers }) }, (res) => {
      res.resume()
      res.on('end', () => {
        const status = res.statusCode ?? 0
        const ok = status >= 200 && status < 300
        if (ok && performance.now() - startedAt >= options.skipSeconds * 1000 && performance.now() - startedAt < options.seconds * 1000) okInWindow++
        if (counted && waiting.delete(dueAt)) {
          if (ok) latencies.push(performance.now() - dueAt)
          else if (status === 503) counts.shed++
          else if (expected.has(status)) counts.expected++
          else counts.errors++
        }
        resolve()
      })
    })
    req.on('error', () => {
      if (counted && waiting.delete(dueAt)) counts.errors++
      resolve()
    })
    requests.add(req)
    req.on('close', () => requests.delete(req))
    req.end(options.body)
  })

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const elapsedMs = performance.now() - startedAt
      // Request i is due at i / rate seconds: those due by now are sent now.
      const due = Math.min(total, Math.floor(elapsedMs * options.rate / 1000) + 1)
      for (; issued < due; issued++) pending.push(send(startedAt + issued * 1000 / options.rate))
      if (issued >= total) resolve()
      else setTimeout(tick, 1)
    }
    tick()
  })
  // Answers that come within a second of the end still count; then the rest are cut off.
  await Promise.race([Promise.all(pending), new Promise((resolve) => setTimeout(resolve, 1000))])
  const cutAt = performance.now()
  for (const dueAt of waiting) latencies.push(cutAt - dueAt)
  const unanswered = waiting.size
  waiting.clear()
  for (const req of requests) req.destroy()
  if (options.agent === undefined) agent.destroy()
  latencies.sort((a, b) => a - b)
  return {
    goodput: okInWindow / (options.seconds - options.skipSeconds),
    unanswered,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? Number.NaN,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)] ?? Number.NaN,
    ok: latencies.length - unanswered,
    ...counts,
  }
}
