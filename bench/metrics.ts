import { performance } from 'node:perf_hooks'
import { Registry } from 'prom-client'
import { monotonicClock } from '../src/clock.js'
import { Deadline } from '../src/deadline/index.js'
import { SloMetrics, resolveObjective } from '../src/error-budget/index.js'
import { DeadlineMetrics, MetricsHub } from '../src/metrics/index.js'
import { COMPARISON_COLUMNS, compare, comparisonRow, cpuRatio } from './harness.js'
import { Report } from './report.js'

// The cost of metrics: hello-world with every capability on (chaos
// enabled, one SLO with both indicators, load shedding, deadlines), all
// metrics on and the scrape route served, against the same app with
// `metrics: false`, measured in the same run.
const report = new Report('metrics', 'npm run bench:metrics')
// Throughput on a shared machine moves with other processes' load; the CPU
// time each request costs the server moves much less. The comparison's
// alternating rounds give both.
const ROUNDS = 5
const SECONDS = 3
const comparison = await compare('all-metrics-off', 'all-metrics-on', '/hello', ROUNDS, SECONDS)
const throughput = report.table('Metrics on (candidate) against metrics off (baseline), every capability with chaos enabled', COMPARISON_COLUMNS)
throughput.row(comparisonRow('hello-world 200, every capability', comparison))
throughput.end()
const cost = report.table('What metrics cost per request', ['measure', 'metrics off', 'metrics on', 'ratio or difference'])
if (comparison.cpuMicros !== undefined) {
  const { baseline: off, candidate: on } = comparison.cpuMicros
  cost.row([`server CPU per request (medians of ${ROUNDS} rounds)`, `${off.toFixed(1)} µs`, `${on.toFixed(1)} µs`, `${(cpuRatio(comparison) ?? Number.NaN).toFixed(3)}× (throughput-equivalent; median of the rounds' ratios)`])
}

// The work metrics add to a hello-world request, alone: a deadline that
// carries its route's tally, and the SLO recording with its prom-client
// series. Fastest of several rounds, each side alternately.
const ITERATIONS = 1_000_000
const objectives = resolveObjective({ name: 'api', availability: 0.999, latency: { thresholdMs: 100, target: 0.99 } }, 'bench')
const sloMetrics = new SloMetrics(new MetricsHub(new Registry(), ''))
const route = sloMetrics.forRoute(objectives, 'GET /hello')
sloMetrics.seal()
const tally = new DeadlineMetrics(new MetricsHub(new Registry(), '')).forRoute('GET /hello')

function oneRequest (withMetrics: boolean): void {
  const deadline = new Deadline({ timeoutMs: 15_000, forwardHeader: 'x-request-timeout-ms', clock: monotonicClock, tally: withMetrics ? tally : undefined })
  deadline.finish()
  if (withMetrics) sloMetrics.record(route, 'good', false, 0.001)
}

const fastest = { off: Infinity, on: Infinity }
for (let round = 0; round < 6; round++) {
  for (const side of ['off', 'on'] as const) {
    const startedAt = performance.now()
    for (let i = 0; i < ITERATIONS; i++) oneRequest(side === 'on')
    fastest[side] = Math.min(fastest[side], (performance.now() - startedAt) * 1e6 / ITERATIONS)
  }
}
cost.row(['work metrics add to one request, measured alone', `${fastest.off.toFixed(0)} ns`, `${fastest.on.toFixed(0)} ns`, `${(fastest.on - fastest.off).toFixed(0)} ns`])
cost.end()
