import { compare, formatRow } from './harness.js'

// The cost of metrics: hello-world with every capability on (chaos
// enabled, one SLO with both indicators, load shedding, deadlines), all
// metrics on and the scrape route served, against the same app with
// `metrics: false`, measured in the same run.
console.log('| scenario | metrics off | metrics on | ratio | p99 (on) |')
console.log('| --- | --- | --- | --- | --- |')
console.log(formatRow('hello-world 200, every capability', await compare('all-metrics-off', 'all-metrics-on', '/hello', 6, 4)))
