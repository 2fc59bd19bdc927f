import { performance } from 'node:perf_hooks'
import { Registry } from 'prom-client'
import { SliCounter, SloMetrics, classifyOutcome, resolveObjective } from '../src/error-budget/index.js'
import { MetricsHub } from '../src/metrics/index.js'
import { COMPARISON_COLUMNS, compare, comparisonRow } from './harness.js'
import { Report } from './report.js'

// The cost of SLO accounting: hello-world against bare Fastify in the same
// run, then the recording work of one request measured alone.
const report = new Report('error-budget', 'npm run bench:budget')
const table = report.table('Error budgets alone (with problem details and metrics) against bare Fastify', COMPARISON_COLUMNS)
table.row(comparisonRow('hello-world 200, one SLO (availability + latency), metrics on', await compare('bare', 'error-budget', '/hello', 3, 3)))
table.end()
const alone = report.table('Recording one request, measured alone', ['work', 'time per request', 'iterations'])

const ITERATIONS = 2_000_000
const objectives = resolveObjective({ name: 'api', availability: 0.999, latency: { thresholdMs: 100, target: 0.99 } }, 'bench')
const availability = new SliCounter(30 * 86_400_000)
const latency = new SliCounter(30 * 86_400_000)
const metrics = new SloMetrics(new MetricsHub(new Registry(), ''))
const route = metrics.forRoute(objectives, 'GET /hello')
metrics.seal()
const facts = { statusCode: 200, deadlineExceeded: false, callerBudgetSpent: false, brokenOff: false, clientClosed: false, shed: false, chaos: false }

/** What the onResponse hook does for one request, without Fastify around it. */
function recordOne (i: number, withMetrics: boolean): void {
  const outcome = classifyOutcome(facts)
  const now = performance.now()
  availability.add(now, 1, outcome.bad ? 1 : 0)
  latency.add(now, 1, 0)
  if (withMetrics) metrics.record(route, outcome.reason, i % 100 === 0, 0.001)
}

for (const withMetrics of [false, true]) {
  for (let i = 0; i < 100_000; i++) recordOne(i, withMetrics)
  const startedAt = performance.now()
  for (let i = 0; i < ITERATIONS; i++) recordOne(i, withMetrics)
  const nsPerRequest = (performance.now() - startedAt) * 1e6 / ITERATIONS
  alone.row([withMetrics ? 'buckets and prom-client metrics' : 'buckets only', `${nsPerRequest.toFixed(0)} ns`, ITERATIONS.toLocaleString('en-US')])
}
alone.end()
