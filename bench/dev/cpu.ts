import { costedLoad, load, median, startTarget } from '../harness.js'
import { targetSpec } from './target-spec.js'

// Development aid: the server's CPU time per request (user + system, from
// /proc), which a busy machine blurs less than throughput. Targets are
// given as variant,setting,setting…; rounds alternate between them. Each
// round prints every target's figure and how often the load generator
// slept per answer, a wakeup the server pays for (CONTRIBUTING.md):
// compare rounds where it slept about as often for each target.
// BENCH_POST=plain|first|replay sends POSTs of a small JSON body to
// BENCH_PATH (default /orders) instead of GETs: without a key, with a new
// Idempotency-Key on every request, or with one key every time. A spec
// can name its own kind of POST, as in replay:idempotency-memory, and end
// in @<another checkout's bench/serve.ts> to compare two versions.
// Pinned (server on core 0, load generator on core 1) unless
// BENCH_PLACEMENT=unpinned, as for the benchmarks.
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
// How often it slept per answer: each answer that wakes it costs the server (see RoundFigures).
const sleeps = specs.map(() => [] as number[])
for (const t of targets) await load(`http://127.0.0.1:${t.port}${t.request.path}`, 2, t.request)
for (let round = 0; round < Number(process.env.ROUNDS ?? 4); round++) {
  const line: string[] = []
  for (const [i, t] of targets.entries()) {
    const clientBefore = process.cpuUsage()
    const { measurement: m, cpuMicros, generatorSleeps } = await costedLoad(t, seconds, t.request)
    if (m.non2xx > 0) console.warn(`${specs[i] ?? ''}: ${m.non2xx} answers were not 2xx`)
    // A round the machine stalled in (no answers) has no figures: it tells nothing.
    if (cpuMicros !== undefined) results[i]?.push(cpuMicros)
    if (generatorSleeps !== undefined) sleeps[i]?.push(generatorSleeps)
    rates[i]?.push(m.requestsPerSecond)
    const client = process.cpuUsage(clientBefore)
    clientLoad[i]?.push((client.user + client.system) / (seconds * 1e6))
    line.push(`${specs[i] ?? ''} ${cpuMicros?.toFixed(1) ?? '—'} µs, asleep ${generatorSleeps?.toFixed(2) ?? '—'} per answer`)
  }
  console.log(`round ${round + 1}: ${line.join(' | ')}`)
}
const medianOf = (values: number[] | undefined): number | undefined => values === undefined || values.length === 0 ? undefined : median(values)
for (const [i, spec] of specs.entries()) {
  const lowest = Math.min(...results[i] ?? [])
  console.log(spec.padEnd(40), 'min', lowest.toFixed(1), 'µs  median', medianOf(results[i])?.toFixed(1), 'µs  median', Math.round(medianOf(rates[i]) ?? 0), 'req/s, load generator', `${Math.round(100 * (medianOf(clientLoad[i]) ?? 0))}% busy, asleep ${medianOf(sleeps[i])?.toFixed(2) ?? '—'} per answer`)
}
for (const t of targets) await t.stop()
