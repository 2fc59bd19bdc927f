import { request as httpRequest } from 'node:http'
import { COMPARISON_COLUMNS, compare, comparisonRow, load, startTarget } from './harness.js'
import { Report } from './report.js'
import { openLoop } from './open-loop.js'
import type { OpenLoopResult } from './open-loop.js'
import { DOWNSTREAM_MS, DOWNSTREAM_WORKERS } from './workloads.js'

/*
 * Load shedding: its cost at light load against bare Fastify, then three
 * overload scenarios, each for three servers in the same run: bare
 * Fastify (no protection), @fastify/under-pressure with its documented
 * defaults, and fastify-resilience's load shedding with its defaults.
 *
 * Capacity is measured first on the bare server (closed loop, many
 * connections); the unloaded p99 at a quarter of capacity. Overload is a
 * fixed arrival rate of 4× capacity spread over many connections. Goodput
 * counts 2xx answers per second; p99 is over the 2xx answers only.
 */

const SERVERS = [['no protection', 'bare'], ['@fastify/under-pressure (defaults)', 'under-pressure'], ['fastify-resilience load shedding (defaults)', 'load-shedding']] as const
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

const report = new Report('load-shedding', 'npm run bench:shedding')

interface Scenario {
  name: string
  /** Scenario argument of this script, for the command that reproduces it. */
  only: string
  /** The aim for fastify-resilience's admitted p99, as a multiple of the unloaded p99. */
  p99Target: number
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
  const command = `npm run bench:shedding -- ${scenario.only}`
  const table = report.table(`${scenario.name}: capacity ${Math.round(capacity)} req/s, unloaded (a quarter of capacity) p50 ${ms(unloadedP50)}, p99 ${ms(unloadedP99)}, offered ${Math.round(4 * capacity)} req/s`,
    ['server', 'goodput', 'goodput / capacity', 'admitted p99', 'p99 / unloaded', 'shed (503)', 'unanswered at the end'], command)
  for (const [name, variant] of SERVERS) {
    const target = await startTarget(variant)
    try {
      const url = `http://127.0.0.1:${target.port}${scenario.path}`
      const prepare = scenario.prepare
      const result = await offer(url, 4 * capacity, OVERLOAD_SECONDS + SETTLE_SECONDS, SETTLE_SECONDS, prepare === undefined ? undefined : async () => prepare(target.port))
      const p99Ratio = result.p99Ms / unloadedP99
      const goodputRatio = result.goodput / capacity
      table.row([name, `${Math.round(result.goodput)} req/s`, `${goodputRatio.toFixed(2)}×`, ms(result.p99Ms), `${p99Ratio.toFixed(1)}×`, String(result.shed), String(result.unanswered)])
      if (variant === 'load-shedding') {
        report.target(`${scenario.only} at 4× capacity: admitted p99`, `≤ ${scenario.p99Target}× unloaded`, `${p99Ratio.toFixed(1)}×`, p99Ratio <= scenario.p99Target, command)
        report.target(`${scenario.only} at 4× capacity: goodput`, '≥ 0.95× capacity', `${goodputRatio.toFixed(2)}×`, goodputRatio >= 0.95, command)
      }
    } finally {
      await target.stop()
    }
  }
  table.end()
}

async function priorityScenario (): Promise<void> {
  const bare = await startTarget('bare')
  let capacity: number
  try {
    capacity = (await load(`http://127.0.0.1:${bare.port}/work`, 3, { path: '/work' }, 100)).requestsPerSecond
  } finally {
    await bare.stop()
  }
  const table = report.table(`Priorities: 4× capacity (${Math.round(4 * capacity)} req/s), 20% to a critical route, 80% to a low one`,
    ['server', 'critical success', 'critical p99', 'low success'], 'npm run bench:shedding -- priority')
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
      table.row([name, success(critical), ms(critical.p99Ms), success(low)])
    } finally {
      await target.stop()
    }
  }
  table.end()
}

const only = process.argv[2]
if (only === undefined || only === 'overhead') {
  const table = report.table('Load shedding alone (with problem details and metrics) at light load against bare Fastify', COMPARISON_COLUMNS, 'npm run bench:shedding -- overhead')
  table.row(comparisonRow('hello-world 200, light load', await compare('bare', 'load-shedding', '/hello', 2, 3)))
  table.end()
}
if (only === undefined || only === 'cpu') {
  await overloadScenario({ name: 'CPU-bound route (2 ms of CPU per request)', only: 'cpu', p99Target: 2.5, path: '/work' }, (capacity) => capacity / 4)
}
if (only === undefined || only === 'downstream') {
  await overloadScenario({
    name: `Downstream slowdown (a pool of ${DOWNSTREAM_WORKERS} workers goes from ${DOWNSTREAM_MS} to ${SLOWDOWN * DOWNSTREAM_MS} ms per call)`,
    only: 'downstream',
    p99Target: 3,
    path: '/downstream',
    prepare: async (port) => post(port, `/_control/downstream?ms=${SLOWDOWN * DOWNSTREAM_MS}`),
  }, (capacity) => capacity / 4)
}
if (only === undefined || only === 'priority') await priorityScenario()
