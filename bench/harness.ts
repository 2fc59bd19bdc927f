import autocannon from 'autocannon'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export interface Measurement {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  non2xx: number
}

const SERVE = fileURLToPath(new URL('./serve.ts', import.meta.url))

/*
 * On a machine with two or more cores, targets run on core 0 and the load
 * generator on core 1, so neither steals the other's time slices; this
 * takes most of the noise out of a same-run comparison.
 */
function canPin (): boolean {
  try {
    execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
export const pinned = canPin()

/** Starts a benchmark target in a child process and resolves its port and a stop function. */
export async function startTarget (variant: string): Promise<{ port: number, pid: number, stop: () => Promise<void> }> {
  const command = [process.execPath, '--import', 'tsx', SERVE, variant]
  const child = pinned
    ? spawn('taskset', ['-c', '0', ...command], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(command[0] ?? process.execPath, command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
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

/** What each benchmark request looks like; a plain path means GET. */
export interface LoadRequest {
  path: string
  method?: 'GET' | 'POST'
  body?: string
  headers?: Record<string, string>
  /** Give every request its own Idempotency-Key (first-time requests). */
  uniqueIdempotencyKey?: boolean
}

export async function load (url: string, durationSeconds: number, request: LoadRequest = { path: '' }, connections = 50): Promise<Measurement> {
  let sequence = 0
  const result = await autocannon({
    url,
    connections,
    duration: durationSeconds,
    pipelining: 1,
    method: request.method ?? 'GET',
    headers: request.headers ?? {},
    ...(request.body === undefined ? {} : { body: request.body }),
    ...(request.uniqueIdempotencyKey === true
      ? { requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, 'idempotency-key': `bench-${process.pid}-${++sequence}` } }) }] }
      : {}),
  })
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
  }
}

/**
 * Measures a path on two targets in alternating rounds (baseline first),
 * after a warm-up, and keeps each side's best round: alternating spreads
 * drift in machine load over both sides, the best round filters stalls.
 */
export async function compare (baseline: string, candidate: string, target: string | LoadRequest, rounds: number, seconds: number): Promise<{ baseline: Measurement, candidate: Measurement, ratio: number }> {
  const request = typeof target === 'string' ? { path: target } : target
  const targets = { baseline: await startTarget(baseline), candidate: await startTarget(candidate) }
  try {
    const best: { baseline?: Measurement, candidate?: Measurement } = {}
    for (const side of ['baseline', 'candidate'] as const) await load(`http://127.0.0.1:${targets[side].port}${request.path}`, 2, request)
    for (let round = 0; round < rounds; round++) {
      for (const side of ['baseline', 'candidate'] as const) {
        const measured = await load(`http://127.0.0.1:${targets[side].port}${request.path}`, seconds, request)
        if (best[side] === undefined || measured.requestsPerSecond > best[side].requestsPerSecond) best[side] = measured
      }
    }
    if (best.baseline === undefined || best.candidate === undefined) throw new RangeError('rounds must be at least 1')
    return { baseline: best.baseline, candidate: best.candidate, ratio: best.candidate.requestsPerSecond / best.baseline.requestsPerSecond }
  } finally {
    await targets.baseline.stop()
    await targets.candidate.stop()
  }
}

export function formatRow (name: string, result: { baseline: Measurement, candidate: Measurement, ratio: number }): string {
  const rate = (value: number): string => `${Math.round(value).toLocaleString('en-US')} req/s`
  return `| ${name} | ${rate(result.baseline.requestsPerSecond)} | ${rate(result.candidate.requestsPerSecond)} | ${result.ratio.toFixed(2)}× | ${result.candidate.p99Ms} ms |`
}
