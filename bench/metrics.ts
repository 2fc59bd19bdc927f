import Fastify from 'fastify'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import resilience from '../plugins/index.js'
import { compare, formatRow, load, startTarget } from './harness.js'
import { everyCapability } from './workloads.js'

// The cost of metrics: hello-world with every capability on (chaos
// enabled, one SLO with both indicators, load shedding, deadlines), all
// metrics on and the scrape route served, against the same app with
// `metrics: false`, measured in the same run.
console.log('| scenario | metrics off | metrics on | ratio | p99 (on) |')
console.log('| --- | --- | --- | --- | --- |')
console.log(formatRow('hello-world 200, every capability', await compare('all-metrics-off', 'all-metrics-on', '/hello', 3, 4)))

function median (values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN
}

/** CPU seconds a process has used (user + system), from /proc; clock ticks are 1/100 s on Linux. */
function cpuSeconds (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100
}

// Throughput on a shared machine moves with other processes' load; the CPU
// time each request costs the server moves much less. Alternating rounds,
// the median of each side.
const ROUNDS = 5
const SECONDS = 3
const targets = { off: await startTarget('all-metrics-off'), on: await startTarget('all-metrics-on') }
try {
  const perRequest: { off: number[], on: number[] } = { off: [], on: [] }
  for (const side of ['off', 'on'] as const) await load(`http://127.0.0.1:${targets[side].port}/hello`, 2, { path: '/hello' })
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of ['off', 'on'] as const) {
      const before = cpuSeconds(targets[side].pid)
      const measured = await load(`http://127.0.0.1:${targets[side].port}/hello`, SECONDS, { path: '/hello' })
      perRequest[side].push((cpuSeconds(targets[side].pid) - before) / (measured.requestsPerSecond * SECONDS))
    }
  }
  const off = median(perRequest.off)
  const on = median(perRequest.on)
  console.log(`\nserver CPU per request (median of ${ROUNDS} rounds): ${(off * 1e6).toFixed(1)} µs off, ${(on * 1e6).toFixed(1)} µs on; throughput-equivalent ratio ${(off / on).toFixed(3)}×`)
} finally {
  await targets.off.stop()
  await targets.on.stop()
}

// In one process, alternating many short rounds of app.inject: both apps
// see the same machine at nearly the same moments, and the median round
// filters the stalls.
const apps = { off: Fastify(), on: Fastify() }
for (const side of ['off', 'on'] as const) {
  await apps[side].register(resilience, everyCapability(side === 'on'))
  apps[side].get('/hello', async () => ({ hello: 'world' }))
  await apps[side].ready()
}
const INJECTS = 3_000
const INJECT_ROUNDS = 20
const roundTimes: { off: number[], on: number[] } = { off: [], on: [] }
for (let round = -3; round < INJECT_ROUNDS; round++) {
  for (const side of round % 2 === 0 ? ['off', 'on'] as const : ['on', 'off'] as const) {
    const startedAt = performance.now()
    for (let i = 0; i < INJECTS; i++) await apps[side].inject('/hello')
    // The first rounds warm up the JIT.
    if (round >= 0) roundTimes[side].push((performance.now() - startedAt) / INJECTS)
  }
}
for (const app of Object.values(apps)) await app.close()
const injectOff = median(roundTimes.off)
const injectOn = median(roundTimes.on)
console.log(`app.inject per request (median of ${INJECT_ROUNDS} rounds of ${INJECTS.toLocaleString('en-US')}): ${(injectOff * 1000).toFixed(2)} µs off, ${(injectOn * 1000).toFixed(2)} µs on; ratio ${(injectOff / injectOn).toFixed(3)}×`)
