import { COMPARISON_COLUMNS, compare, comparisonRow, cpuRatio, load, postRequest, rate, startTarget, targetStats } from './harness.js'
import { Report } from './report.js'

/*
 * Scale curves: the per-request cost as the application grows. Routes and
 * SLOs: the umbrella against bare Fastify with the same routes, the load
 * spread over every route. Idempotency keys: first-time POSTs, each with a
 * key of its own, until a million distinct keys have passed through the
 * memory store, in slices, with the server's live heap after each.
 * Usage: scale.ts [routes|slos|keys]
 */
const COUNTS = [1, 10, 100, 1000]
const ROUNDS = 3
const SECONDS = 2
const FLAT = 0.9
const KEYS = 1_000_000
const SLICE_SECONDS = 5
const MAX_KEY_SECONDS = 100

const only = process.argv[2]
const report = new Report(only === undefined ? 'scale' : `scale-${only}`, 'npm run bench:scale')
const paths = (count: number): string[] => Array.from({ length: count }, (_, i) => `/r/${i}`)

async function curve (name: string, settingsOf: (count: number) => { bare: string[], umbrella: string[] }): Promise<void> {
  const command = `npm run bench:scale -- ${name}`
  const table = report.table(`Every capability on, against bare Fastify with the same routes, as the ${name} grow (requests spread over every route)`, ['count', ...COMPARISON_COLUMNS.slice(1)], command)
  const ratios: number[] = []
  for (const count of COUNTS) {
    const settings = settingsOf(count)
    const result = await compare({ variant: 'bare', settings: settings.bare }, { variant: 'umbrella', settings: settings.umbrella }, { path: '/r/0', paths: paths(count) }, ROUNDS, SECONDS)
    // The per-request cost: server CPU per request (the median of the
    // rounds), which the machine's changing speed moves less than the
    // best round's throughput; throughput where there is no /proc.
    ratios.push(cpuRatio(result) ?? result.ratio)
    table.row(comparisonRow(count.toLocaleString('en-US'), result))
  }
  table.note('Flatness is judged on the server CPU per request against bare Fastify (the median of the rounds): it is the per-request cost itself, and it moves less than the best round\'s throughput when the machine\'s speed changes between rounds.')
  table.end()
  const first = ratios[0] ?? Number.NaN
  const last = ratios[ratios.length - 1] ?? Number.NaN
  report.target(`${name}: 1 → 1,000, per-request cost against bare Fastify flat`, `CPU-per-request ratio at 1,000 ≥ ${FLAT}× the one at 1`, `${first.toFixed(2)}× → ${last.toFixed(2)}× (${(last / first).toFixed(2)} of it)`, last / first >= FLAT, command)
}

async function keys (): Promise<void> {
  const command = 'npm run bench:scale -- keys'
  const target = await startTarget('idempotency-memory', ['stats=1'], ['--expose-gc'])
  const table = report.table(`First-time POSTs with a key each through the memory store (its default bound, 10,000 keys), in ${SLICE_SECONDS} s slices until ${KEYS.toLocaleString('en-US')} distinct keys`,
    ['keys so far', 'throughput', 'p99', 'not 2xx (shed)', 'live heap after the slice'], command)
  const rates: number[] = []
  const heaps: number[] = []
  let sent = 0
  const startedAt = Date.now()
  try {
    while (sent < KEYS && Date.now() - startedAt < MAX_KEY_SECONDS * 1000) {
      const slice = await load(`http://127.0.0.1:${target.port}/orders`, SLICE_SECONDS, postRequest('first'))
      // A shed request (503) never claimed its key.
      sent += Math.max(0, Math.round(slice.requestsPerSecond * SLICE_SECONDS) - slice.non2xx)
      const { heapUsed } = await targetStats<{ heapUsed: number }>(target.port)
      rates.push(slice.requestsPerSecond)
      heaps.push(heapUsed)
      table.row([sent.toLocaleString('en-US'), rate(slice.requestsPerSecond), `${slice.p99Ms} ms`, String(slice.non2xx), `${(heapUsed / 1048576).toFixed(1)} MB`])
    }
  } finally {
    await target.stop()
  }
  table.end()
  // The first slice warms the process up; the rest should neither slow down nor grow.
  const steady = rates.slice(1)
  const lastRate = steady[steady.length - 1] ?? Number.NaN
  const bestRate = Math.max(...steady)
  const heapGrowth = (heaps[heaps.length - 1] ?? Number.NaN) / (heaps[1] ?? Number.NaN)
  report.target(`${KEYS.toLocaleString('en-US')} idempotency keys: throughput flat`, `last slice ≥ ${FLAT}× the best`, `${(lastRate / bestRate).toFixed(2)}× over ${sent.toLocaleString('en-US')} keys`, lastRate / bestRate >= FLAT && sent >= KEYS, command)
  report.target(`${KEYS.toLocaleString('en-US')} idempotency keys: memory bounded`, 'live heap within ±10 % of the second slice\'s', `${heapGrowth.toFixed(2)}×`, Math.abs(heapGrowth - 1) <= 0.1, command)
}

if (only === undefined || only === 'routes') await curve('routes', (count) => ({ bare: [`routes=${count}`], umbrella: [`routes=${count}`] }))
if (only === undefined || only === 'slos') await curve('slos', (count) => ({ bare: [`routes=${count}`], umbrella: [`routes=${count}`, `slos=${count}`] }))
if (only === undefined || only === 'keys') await keys()
