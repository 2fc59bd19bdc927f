import { COMPARISON_COLUMNS, compare, comparisonRow } from './harness.js'
import { Report } from './report.js'

// Problem details cost: hello-world (the plugin should cost nothing on the
// happy path) and an error route (the problem handler against Fastify's
// default error handler), each against bare Fastify in the same run.
const ROUNDS = 3
const SECONDS = 3

const report = new Report('problem-details', 'npm run bench:problem-details')
const table = report.table('Problem details alone (with metrics) against bare Fastify', COMPARISON_COLUMNS)
for (const [name, path] of [['hello-world 200', '/hello'], ['thrown 404 error', '/error']] as const) {
  table.row(comparisonRow(name, await compare('bare', 'problem-details', path, ROUNDS, SECONDS)))
}
table.note('The error row compares the problem handler with Fastify\'s default error handler, which serialises with a precompiled schema.')
table.end()
