import { COMPARISON_COLUMNS, compare, comparisonRow } from './harness.js'
import { Report } from './report.js'

// The price of having chaos registered and switched off, against bare
// Fastify in the same run (problem details are registered with it).
const report = new Report('chaos', 'npm run bench:chaos')
const table = report.table('Chaos registered with an experiment on every route, not enabled, against bare Fastify', COMPARISON_COLUMNS)
table.row(comparisonRow('hello-world 200', await compare('bare', 'chaos-disabled', '/hello', 3, 3)))
table.end()
