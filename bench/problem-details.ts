import { compare, formatRow } from './harness.js'

// Problem details cost: hello-world (the plugin should cost nothing on the
// happy path) and an error route (the problem handler against Fastify's
// default error handler), each against bare Fastify in the same run.
const ROUNDS = 3
const SECONDS = 3

console.log('| scenario | bare Fastify | with problemDetails | ratio | p99 (with) |')
console.log('| --- | --- | --- | --- | --- |')
for (const [name, path] of [['hello-world 200', '/hello'], ['thrown 404 error', '/error']] as const) {
  console.log(formatRow(name, await compare('bare', 'problem-details', path, ROUNDS, SECONDS)))
}
