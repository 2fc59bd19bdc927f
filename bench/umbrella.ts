import { COMPARISON_COLUMNS, compare, comparisonRow, cpuRatio, judgedRatio, measuredRatios, place } from './harness.js'
import type { Placement } from './harness.js'
import { Report } from './report.js'

// Every capability registered (bench/serve.ts, variant umbrella) on a
// hello-world route against bare Fastify in the same run, pinned and
// unpinned: users register the umbrella, not one capability.
const ROUNDS = 4
const SECONDS = 3
const TARGET = 0.9

const report = new Report('umbrella', 'npm run bench:umbrella')
const table = report.table('Every capability on, hello-world 200, against bare Fastify', COMPARISON_COLUMNS)
for (const placement of ['pinned', 'unpinned'] as Placement[]) {
  const placed = place(placement)
  const result = await compare('bare', 'umbrella', '/hello', ROUNDS, SECONDS)
  table.row(comparisonRow('hello-world 200', result))
  // Pinned, the server alone sets the pace only while the load generator's core has room: the server's CPU per
  // request must agree. Unpinned, both share the cores, and throughput is the measure.
  const cpu = placed === 'pinned' ? cpuRatio(result) : undefined
  report.target(`umbrella hello-world, ${placed}`, `≥ ${TARGET.toFixed(2)}× bare Fastify`, measuredRatios(result.ratio, cpu), judgedRatio(result.ratio, cpu) >= TARGET)
}
const withHealth = await compare('bare', { variant: 'umbrella', settings: ['health=1'] }, '/hello', ROUNDS, SECONDS)
table.row(comparisonRow('hello-world 200, health and shutdown added', withHealth))
table.note('Every capability: problem details, deadlines (15 s), a declared dependency (not called), load shedding (defaults), chaos (an experiment on every route, not enabled), idempotency (for routes that declare it; not this one), error budgets (every route under one SLO with availability and latency indicators), metrics with their scrape route. Health and shutdown are off unless asked for in the umbrella; the last row adds them (unpinned), for information. The load generator runs on this machine: an answer that finds it asleep costs the server a wakeup of its core (an interrupt, several microseconds in a VM) counted in the server\'s CPU time, so a side whose generator slept more often pays for it; compare CPU figures where both slept about as often.')
table.end()
