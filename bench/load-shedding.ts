import { request as httpRequest } from 'node:http'
import { compare, formatRow, load, startTarget } from './harness.js'
import { openLoop } from './open-loop.js'
import type { OpenLoopResult } from './open-loop.js'
import { DOWNSTREAM_MS, DOWNSTREAM_WORKERS } from './workloads.js'

/*
 * Load shedding: its cost at light load against bare Fastify, then three
 * overload scenarios, each for three servers in the same run: bare
 * Fastify (no protection), @fastify/under-pressure with its documented
 * defaults, and fastify-resilience with its defaults.
 *
 * Capacity is measured first on the bare server (closed loop, many
 * connections); the unloaded p99 at a quarter of capacity. Overload is a
 * fixed arrival rate of 4× capacity spread over many connections. Goodput
 * counts 2xx answers per second; p99 is over the 2xx answers only.
 */

const SERVERS = [['no protection', 'bare'], ['@fastify/under-pressure (defaults)', 'under-pressure'], ['fastify-resilience (defaults)', 'load-shedding']] as const
const OVERLOAD_SECONDS = 5
const SETTLE_SECONDS = 1
const CONNECTIONS = 400
const SLOWDOWN = 5

type Offered = OpenLoopResult

const ms = (value: number): string => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`

/** Offers `rate` requests per second for `seconds`; counts only requests due after the first `skipSeconds`. */
async function offer (url: string, rate: number, seconds: number, skipSeconds: number, onStart?: () => Promise<void>): Promise<Offered> {
  // The scenario's change happens halfway through the warm-up, so the measured part starts in the new state.
  if (onStart !== undefined) setTimeout(() => { onStart().catch((error: unknown) => { console.error(error) }) }, skipSeconds * 500)
  return openLoop({ url, rate, seconds, skipSeconds, connections: CONNECTIONS })
}

async function post (port: number, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST' }, (res) => {
      res.resume()
      res.on('end', resolve)
    })
    req.on('error', reject)
    req.end()
  })
}

interface Scenario {
  name: string
  path: string
  /** Sets the server into the scenario's state (e.g. a slow dependency) before measuring. */
  prepare?: (port: number) => Promise<void>
}

async function overloadScenario (scenario: Scenario, unloadedAt: (capacity: number) => number): Promise<void> {
  const bare = await startTarget('bare')
  let capacity: number
  let unloadedP99: number
  let unloadedP50: number
  try {
    await scenario.prepare?.(bare.port)
    const closedLoop = await load(`http://127.0.0.1:${bare.port}${scenario.path}`, 3, { path: scenario.path }, 100)
    capacity = closedLoop.requestsPerSecond
    const unloaded = await offer(`http://127.0.0.1:${bare.port}${scenario.path}`, unloadedAt(capacity), 4, 1)
    unloadedP50 = unloaded.p50Ms
    unloadedP99 = unloaded.p99Ms
  } finally {
    await bare.stop()
  }
  console.log(`\n${scenario.name}: capacity ${Math.round(capacity)} req/s, unloaded (a quarter of capacity) p50 ${ms(unloadedP50)}, p99 ${ms(unloadedP99)}, offered ${Math.round(4 * capacity)} req/s\n`)
  console.log('| server | goodput | goodput / capacity | admitted p99 | p99 / unloaded | shed (503) | unanswered at the end |')
  console.log('| --- | --- | --- | --- | --- | --- | --- |')
  for (const [name, variant] of SERVERS) {
    const target = await startTarget(variant)
    try {
      const url = `http://127.0.0.1:${target.port}${scenario.path}`
      const prepare = scenario.prepare
      const result = await offer(url, 4 * capacity, OVERLOAD_SECONDS + SETTLE_SECONDS, SETTLE_SECONDS, prepare === undefined ? undefined : async () => prepare(target.port))
      console.log(`| ${name} | ${Math.round(result.goodput)} req/s | ${(result.goodput / capacity).toFixed(2)}× | ${ms(result.p99Ms)} | ${(result.p99Ms / unloadedP99).toFixed(1)}× | ${result.shed} | ${result.unanswered} |`)
    } finally {
      await target.stop()
    }
  }
}

async function priorityScenario (): Promise<void> {
  const bare = await startTarget('bare')
  let capacity: number
  try {
    capacity = (await load(`http://127.0.0.1:${bare.port}/work`, 3, { path: '/work' }, 100)).requestsPerSecond
  } finally {
    await bare.stop()
  }
  console.log(`\nPriorities: 4× capacity (${Math.round(4 * capacity)} req/s), 20% to a critical route, 80% to a low one\n`)
  console.log('| server | critical success | critical p99 | low success |')
  console.log('| --- | --- | --- | --- |')
  for (const [name, variant] of [SERVERS[0], SERVERS[2]]) {
    const target = await startTarget(variant)
    try {
      const base = `http://127.0.0.1:${target.port}`
      const seconds = OVERLOAD_SECONDS + SETTLE_SECONDS
      const [critical, low] = await Promise.all([
        offer(`${base}/work/critical`, 0.8 * capacity, seconds, SETTLE_SECONDS),
        offer(`${base}/work/low`, 3.2 * capacity, seconds, SETTLE_SECONDS),
      ])
      const success = (result: Offered): string => `${(100 * result.ok / Math.max(1, result.sent)).toFixed(1)}%`
      console.log(`| ${name} | ${success(critical)} | ${ms(critical.p99Ms)} | ${success(low)} |`)
    } finally {
      await target.stop()
    }
  }
}

const only = process.argv[2]
if (only === undefined || only === 'overhead') {
  console.log('| scenario | bare Fastify | with load shedding | ratio | p99 (with) |')
  console.log('| --- | --- | --- | --- | --- |')
  console.log(formatRow('hello-world 200, light load', await compare('bare', 'load-shedding', '/hello', 2, 3)))
}
if (only === undefined || only === 'cpu') {
  await overloadScenario({ name: 'CPU-bound route (2 ms of CPU per request)', path: '/work' }, (capacity) => capacity / 4)
}
if (only === undefined || only === 'downstream') {
  await overloadScenario({
    name: `Downstream slowdown (a pool of ${DOWNSTREAM_WORKERS} workers goes from ${DOWNSTREAM_MS} to ${SLOWDOWN * DOWNSTREAM_MS} ms per call)`,
    path: '/downstream',
    prepare: async (port) => post(port, `/_control/downstream?ms=${SLOWDOWN * DOWNSTREAM_MS}`),
  }, (capacity) => capacity / 4)
}
if (only === undefined || only === 'priority') await priorityScenario()
