import { fileURLToPath } from 'node:url'
import { startTarget } from '../harness.js'
import { monotonicClock } from '../../src/clock.js'
import { Deadline } from '../../src/deadline/index.js'
import { Dependency, fetchPlan, resolveDependenciesOptions, toResponse } from '../../src/dependencies/index.js'

/*
 * Development aid: CPU time per outbound call made in this process, with
 * no server of its own in the way, so a few microseconds show where the
 * HTTP benchmark (bench:dependencies -- cost) blurs them in its spread.
 * Twenty calls at a time to the benchmark's downstream, rounds alternating
 * between: plain fetch with a timeout signal; fetch with a request
 * deadline's signal and budget header; through a dependency without
 * policies; through one with every policy of the cost benchmark. Each
 * deadline-bound call gets a fresh Deadline, as each request would.
 * Usage (after npm run build, to measure the compiled library):
 * tsx --import ./bench/compiled.mjs bench/dev/call-cost.ts [variant…]; ROUNDS (default 6).
 */
const DOWNSTREAM = fileURLToPath(new URL('../serve-dependencies.ts', import.meta.url))
const downstream = await startTarget('dependency', [], [], DOWNSTREAM)
const url = `http://127.0.0.1:${downstream.port}`
const [bare, every] = resolveDependenciesOptions({
  bare: { baseUrl: url, breaker: false, retry: { attempts: 1 } },
  every: { baseUrl: url, breaker: { failureRate: 0.5, minimumCalls: 20 }, retry: { attempts: 3 }, bulkhead: { maxConcurrent: 1024, maxQueue: 1024 }, fallback: { value: { ok: false } } },
})
if (bare === undefined || every === undefined) throw new Error('the two dependencies did not resolve')
const throughBare = new Dependency(bare)
const throughEvery = new Dependency(every)
const newDeadline = (): Deadline => new Deadline({ timeoutMs: 10_000, forwardHeader: 'x-request-timeout-ms', clock: monotonicClock })
async function withDeadline (call: (deadline: Deadline) => Promise<unknown>): Promise<unknown> {
  const deadline = newDeadline()
  try {
    return await call(deadline)
  } finally {
    deadline.finish()
  }
}

const variants: Record<string, () => Promise<unknown>> = {
  'plain fetch': async () => await (await fetch(`${url}/data`, { signal: AbortSignal.timeout(1000) })).json(),
  'fetch, deadline signal': async () => await withDeadline(async (deadline) => await (await fetch(`${url}/data`, { signal: deadline.signal, headers: deadline.headers() })).json()),
  'dependency, no policy': async () => await withDeadline(async (deadline) => await toResponse(await throughBare.execute(fetchPlan(bare, '/data', undefined, {}), deadline, () => {})).json()),
  'dependency, every policy': async () => await withDeadline(async (deadline) => await toResponse(await throughEvery.execute(fetchPlan(every, '/data', undefined, {}), deadline, () => {})).json()),
}
const chosen = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(variants)
const CONCURRENCY = 20
const ROUND_MS = 1500

/** Microseconds of this process's CPU per call over one round. */
async function round (call: () => Promise<unknown>): Promise<number> {
  let calls = 0
  const end = performance.now() + ROUND_MS
  const before = process.cpuUsage()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      await call()
      calls++
    }
  }))
  const used = process.cpuUsage(before)
  return (used.user + used.system) / calls
}

const calls = chosen.map((name) => {
  const call = variants[name]
  if (call === undefined) throw new TypeError(`call-cost.ts knows ${Object.keys(variants).join(', ')}, instead got ${name}`)
  return call
})
for (const call of calls) await round(call)
const results = chosen.map(() => [] as number[])
for (let i = 0; i < Number(process.env.ROUNDS ?? 6); i++) {
  for (const [index, call] of calls.entries()) results[index]?.push(await round(call))
}
for (const [index, name] of chosen.entries()) {
  const sorted = (results[index] ?? []).sort((a, b) => a - b)
  console.log(name.padEnd(26), 'min', sorted[0]?.toFixed(1), 'µs  median', sorted[Math.floor(sorted.length / 2)]?.toFixed(1), 'µs of CPU per call')
}
await downstream.stop()
