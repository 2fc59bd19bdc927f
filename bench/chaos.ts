import { compare, formatRow } from './harness.js'

// The price of having chaos registered and switched off, against bare
// Fastify in the same run (problem details are registered with it and
// measure 1.00× alone).
console.log('| scenario | bare Fastify | with chaos, disabled | ratio | p99 (with) |')
console.log('| --- | --- | --- | --- | --- |')
console.log(formatRow('hello-world 200', await compare('bare', 'chaos-disabled', '/hello', 3, 3)))
