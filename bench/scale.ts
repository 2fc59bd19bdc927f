import { COMPARISON_COLUMNS, comparisonOf, comparisonRow, costedLoad, measureInRounds, median, postRequest, rate, spreadOverRoutes, startTarget, targetStats } from './harness.js'
import type { LoadedTarget } from './harness.js'
import { Report } from './report.js'

/*
 * Scale curves: the per-request cost as the application grows. Routes:
 * the umbrella against bare Fastify with the same routes, the load spread
 * over every route. SLOs: the same with 1,000 routes, the first N of them
 * under an SLO each (the routes stay, so the curve is the SLOs' alone).
 * Idempotency keys: first-time POSTs, each with a key of its own, until a
 * million distinct keys have passed through the memory store, in slices,
 * with the server's live heap after each and, after each, bare Fastify's
 * cost for the same POST without a key.
 * Usage: scale.ts [routes|slos|keys]
 */
const COUNTS = [1, 10, 100, 1000]
const ROUNDS = 4
const SECONDS = 2
const FLAT = 0.9
const KEYS = 1_000_000
const SLICE_SECONDS = 5
const MAX_KEY_SECONDS = 110
const REFERENCE_SECONDS = 1

const only = process.argv[2]
const report = new Report(only === undefined ? 'scale' : `scale-${only}`, 'npm run bench:scale')
/** A target with `count` routes (/r/0 … /r/count-1), loaded on all of them in turn. */
const spreadOver = (count: number, variant: string, settings: string[]): LoadedTarget => ({
  target: { variant, settings: [`routes=${count}`, ...settings] },
  request: spreadOverRoutes(count),
})

/** One point of a curve: the baseline and the candidate measured at that count. */
interface Point {
  count: number
  baseline: LoadedTarget
  candidate: LoadedTarget
}

/**
 * A curve, measured in shared rounds: each round runs every point's
 * baseline and candidate one after the other, so every point meets the
 * same moments of the machine. Targets shared by several points (one
 * baseline for all) are measured once per round.
 */
async function curve (name: string, description: string, points: readonly Point[]): Promise<void> {
  const command = `npm run bench:scale -- ${name}`
  const table = report.table(description, ['count', ...COMPARISON_COLUMNS.slice(1), 'lowest server CPU per request over the rounds (baseline → candidate; ratio)'], command)
  const targets: LoadedTarget[] = []
  const indexOf = (spec: LoadedTarget): number => {
    const key = JSON.stringify(spec)
    const found = targets.findIndex((known) => JSON.stringify(known) === key)
    return found >= 0 ? found : targets.push(spec) - 1
  }
  const pairs = points.map((point) => ({ count: point.count, baseline: indexOf(point.baseline), candidate: indexOf(point.candidate) }))
  const figures = await measureInRounds(targets, ROUNDS, SECONDS)
  // Another process's timers or collector on the same core, or a slower
  // moment of the machine, only ever add to a round's CPU per request: a
  // target's lowest over the rounds is the closest to its code's own cost.
  const lowest = (index: number): number => Math.min(...(figures[index] ?? []).flatMap((round) => round.cpuMicros ?? []))
  // Where there is no /proc, the whole curve is judged on the best rounds' throughput instead.
  const measured = pairs.every((pair) => Number.isFinite(lowest(pair.baseline) / lowest(pair.candidate)))
  const ratios: number[] = []
  for (const pair of pairs) {
    const [baseline, candidate] = [lowest(pair.baseline), lowest(pair.candidate)]
    const comparison = comparisonOf(figures[pair.baseline] ?? [], figures[pair.candidate] ?? [])
    ratios.push(measured ? baseline / candidate : comparison.ratio)
    table.row([...comparisonRow(pair.count.toLocaleString('en-US'), comparison), measured ? `${baseline.toFixed(1)} → ${candidate.toFixed(1)} µs (${(baseline / candidate).toFixed(2)}×)` : '—'])
  }
  table.note(`Each of the ${ROUNDS} rounds runs every target of the table for ${SECONDS} s, one after the other (in reverse order every other round). Flatness is judged on the last column: each target's lowest server CPU per request over the rounds (other processes' work and the machine's slower moments only ever add to it), against its baseline's at the same count; the ratio at ${COUNTS[COUNTS.length - 1]?.toLocaleString('en-US')} over the one at ${COUNTS[0]}.`)
  table.end()
  const first = ratios[0] ?? Number.NaN
  const last = ratios[ratios.length - 1] ?? Number.NaN
  report.target(`${name}: 1 → 1,000, per-request cost against bare Fastify flat`, `CPU-per-request ratio at 1,000 ≥ ${FLAT}× the one at 1 (each target's lowest over the rounds)`, `${first.toFixed(2)}× → ${last.toFixed(2)}× (${(last / first).toFixed(2)} of it)`, last / first >= FLAT, command)
}

async function keys (): Promise<void> {
  const command = 'npm run bench:scale -- keys'
  const target = await startTarget('idempotency-memory', ['stats=1'], ['--expose-gc'])
  // Bare Fastify's plain POST, measured after every slice: this machine's
  // speed moves the CPU per request by half within a run, for both alike.
  const reference = await startTarget('bare')
  const table = report.table(`First-time POSTs with a key each through the memory store (its default bound, 10,000 keys), in ${SLICE_SECONDS} s slices until ${KEYS.toLocaleString('en-US')} distinct keys; after each slice, ${REFERENCE_SECONDS} s of the same POST without a key on bare Fastify`,
    ['keys so far', 'throughput', 'server CPU per request', 'bare Fastify\'s, same slice', 'ratio', 'p99', 'not 2xx (shed)', 'live heap after the slice'], command)
  const ratios: number[] = []
  const heaps: number[] = []
  let sent = 0
  const startedAt = Date.now()
  try {
    while (sent < KEYS && Date.now() - startedAt < MAX_KEY_SECONDS * 1000) {
      const slice = await costedLoad(target, SLICE_SECONDS, postRequest('first'))
      const bare = await costedLoad(reference, REFERENCE_SECONDS, postRequest('plain'))
      const sliceMicros = slice.cpuMicros ?? Number.NaN
      const bareMicros = bare.cpuMicros ?? Number.NaN
      const { requestsPerSecond, non2xx, p99Ms } = slice.measurement
      // A shed request (503) never claimed its key.
      sent += Math.max(0, Math.round(requestsPerSecond * SLICE_SECONDS) - non2xx)
      const { heapUsed } = await targetStats<{ heapUsed: number }>(target.port)
      const ratio = bareMicros / sliceMicros
      ratios.push(ratio)
      heaps.push(heapUsed)
      table.row([sent.toLocaleString('en-US'), rate(requestsPerSecond), `${sliceMicros.toFixed(1)} µs`, `${bareMicros.toFixed(1)} µs`, `${ratio.toFixed(2)}×`, `${p99Ms} ms`, String(non2xx), `${(heapUsed / 1048576).toFixed(1)} MB`])
    }
  } finally {
    await Promise.all([target.stop(), reference.stop()])
  }
  table.note('Flatness is judged on the ratio of bare Fastify\'s CPU per request to the memory store\'s, slice by slice: the median over the second half of the keys against that over the first (less the first slice, which warms the process up). One slice\'s throughput, or its CPU per request alone, moves by half within a run on this kind of machine, in either process.')
  table.end()
  // The first slice warms the process up; the rest are split into halves.
  const steady = ratios.slice(1)
  const half = Math.ceil(steady.length / 2)
  const early = median(steady.slice(0, half))
  const late = median(steady.slice(half))
  const heapGrowth = (heaps[heaps.length - 1] ?? Number.NaN) / (heaps[1] ?? Number.NaN)
  report.target(`${KEYS.toLocaleString('en-US')} idempotency keys: per-request cost flat`, `CPU-per-request ratio to bare Fastify over the second half of the keys ≥ ${FLAT}× the one over the first`, `${early.toFixed(2)}× → ${late.toFixed(2)}× (${(late / early).toFixed(2)} of it) over ${sent.toLocaleString('en-US')} keys`, late / early >= FLAT && sent >= KEYS, command)
  report.target(`${KEYS.toLocaleString('en-US')} idempotency keys: memory bounded`, 'live heap within ±10 % of the second slice\'s', `${heapGrowth.toFixed(2)}×`, Math.abs(heapGrowth - 1) <= 0.1, command)
}

const ROUTES = Math.max(...COUNTS)
if (only === undefined || only === 'routes') {
  await curve('routes', 'Every capability on, against bare Fastify with the same routes, as the routes grow (requests spread over every route)',
    COUNTS.map((count) => ({ count, baseline: spreadOver(count, 'bare', []), candidate: spreadOver(count, 'umbrella', []) })))
}
if (only === undefined || only === 'slos') {
  await curve('slos', `Every capability on with ${ROUTES.toLocaleString('en-US')} routes, against bare Fastify with the same routes, as the SLOs grow (the first N routes under an SLO each, the rest under the default one; requests spread over every route)`,
    COUNTS.map((count) => ({ count, baseline: spreadOver(ROUTES, 'bare', []), candidate: spreadOver(ROUTES, 'umbrella', [`slos=${count}`]) })))
}
if (only === undefined || only === 'keys') await keys()
