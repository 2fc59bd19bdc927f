import { load, place, processCpuMs, startTarget } from '../harness.js'
import { targetSpec } from './target-spec.js'

// Development aid: the server's CPU time per request (user + system, from
// /proc), which a busy machine blurs less than throughput. Targets are
// given as variant,setting,setting…; rounds alternate between them.
// BENCH_POST=plain|first|replay sends POSTs of a small JSON body to
// BENCH_PATH (default /orders) instead of GETs: without a key, with a new
// Idempotency-Key on every request, or with one key every time. A spec
// can name its own kind of POST, as in replay:idempotency-memory, and end
// in @<another checkout's bench/serve.ts> to compare two versions.
place('pinned')
const cpuMs = (pid: number): number => processCpuMs(pid) ?? Number.NaN
const seconds = Number(process.env.SECONDS ?? 3)
const specs = process.argv.slice(2)
const targets = await Promise.all(specs.map(async (spec) => {
  const [target, serve] = spec.split('@', 2)
  const { variant, settings, request } = targetSpec(target ?? '', process.env.BENCH_PATH ?? '/hello', process.env.BENCH_POST)
  return { ...await startTarget(variant, settings, [], serve), request }
}))
const results = specs.map(() => [] as number[])
const rates = specs.map(() => [] as number[])
// The load generator's share of its core: near 1, it, not the server, sets the pace.
const clientLoad = specs.map(() => [] as number[])
for (const t of targets) await load(`http://127.0.0.1:${t.port}${t.request.path}`, 2, t.request)
for (let round = 0; round < Number(process.env.ROUNDS ?? 4); round++) {
  for (const [i, t] of targets.entries()) {
    const before = cpuMs(t.pid)
    const clientBefore = process.cpuUsage()
    const m = await load(`http://127.0.0.1:${t.port}${t.request.path}`, seconds, t.request)
    if (m.non2xx > 0) console.warn(`${specs[i] ?? ''}: ${m.non2xx} answers were not 2xx`)
    // A round the machine stalled in (no answers) tells nothing.
    if (m.requestsPerSecond > 0) results[i]?.push((cpuMs(t.pid) - before) * 1000 / (m.requestsPerSecond * seconds))
    rates[i]?.push(m.requestsPerSecond)
    const client = process.cpuUsage(clientBefore)
    clientLoad[i]?.push((client.user + client.system) / (seconds * 1e6))
  }
}
for (const [i, spec] of specs.entries()) {
  const values = (results[i] ?? []).sort((a, b) => a - b)
  const rps = (rates[i] ?? []).sort((a, b) => a - b)
  const busy = (clientLoad[i] ?? []).sort((a, b) => a - b)
  console.log(spec.padEnd(40), 'min', values[0]?.toFixed(1), 'µs  median', values[Math.floor(values.length / 2)]?.toFixed(1), 'µs  median', Math.round(rps[Math.floor(rps.length / 2)] ?? 0), 'req/s, load generator', `${Math.round(100 * (busy[Math.floor(busy.length / 2)] ?? 0))}% busy`)
}
for (const t of targets) await t.stop()
