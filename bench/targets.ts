import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { once } from 'node:events'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { Writable } from 'node:stream'
import { Redis } from 'ioredis'
import underPressure from '@fastify/under-pressure'
import resilience, { MemoryIdempotencyStore, RedisIdempotencyStore } from '../plugins/index.js'
import type { ResilienceOptions } from '../plugins/index.js'
import { libraryRouteConfig } from '../plugins/library-route.js'
import { DOWNSTREAM_MS, DOWNSTREAM_WORKERS, Downstream, HERD_WORK_MS, WORK_MS, burnCpu, everyCapability } from './workloads.js'

/*
 * The benchmark targets, built by variant; bench/serve.ts runs one in its
 * own process. Settings (name=value): routes=N adds N routes
 * (/r/0 … /r/N-1), slos=N puts the first N of them under an SLO each,
 * soak=1 turns on what the soak benchmark exercises (chaos enabled, with
 * faults on /chaos, not stopped by burning error budgets; error logs and
 * the idempotency keys stored counted in GET /_stats), lateness=1 measures the 504s of
 * /hang inside the server, stats=1 adds GET /_stats (heap, handles, error
 * lines), without=<capability>+… leaves capabilities out of the umbrella,
 * health=1 adds health and shutdown to it, calm=1 raises the umbrella's
 * loop-lag and pressure thresholds and its concurrency limit's floor (64:
 * no queue for the connections a count uses) so that a process slowed down on
 * purpose (bench/dev/instructions.ts runs it under valgrind) sheds nothing,
 * and puts the error budgets' periodic evaluation out of its reach.
 * spin=N adds an onRequest hook that only computes, N steps of a
 * pseudo-random sequence: a known cost per request and nothing else, to
 * see what a given number of instructions does to a throughput ratio on
 * this machine (bench/dev/cpu.ts, bench/dev/instructions.ts).
 */

/** calm=1's evaluation interval: longer than any run under valgrind. */
const CALM_EVALUATION_MS = 24 * 3_600_000

export const VARIANTS = ['bare', 'problem-details', 'deadlines', 'idempotency-memory', 'idempotency-redis', 'redis-read', 'under-pressure', 'load-shedding', 'error-budget', 'chaos-disabled', 'all-metrics-off', 'all-metrics-on', 'umbrella'] as const
export type Variant = typeof VARIANTS[number]

interface Settings {
  routes: number
  slos: number
  soak: boolean
  lateness: boolean
  /** GET /_stats answers the heap, the active handles and the error lines logged. */
  stats: boolean
  /** The umbrella registers health and shutdown too (off by default in the umbrella). */
  health: boolean
  /** Capabilities left out of the umbrella, to see what each one costs. */
  without: Set<string>
  /** The umbrella's loop-lag and pressure thresholds raised, and its periodic evaluation put, out of reach (for runs under valgrind). */
  calm: boolean
  /** Steps of pure computation added to every request by an onRequest hook (0: no hook). */
  spin: number
  /** unspread=1: load shedding answers its refusals for lag or pressure at once (retryAfter.spreadMs 0), as it did before they were spread. */
  unspread: boolean
}

export function parseSettings (args: readonly string[]): Settings {
  const values = new Map(args.map((arg) => arg.split('=', 2) as [string, string]))
  const count = (name: string): number => {
    const value = Number(values.get(name) ?? 0)
    if (!Number.isInteger(value) || value < 0) throw new TypeError(`serve.ts expects ${name}=<integer>, instead got ${String(values.get(name))}`)
    return value
  }
  return { routes: count('routes'), slos: count('slos'), soak: values.get('soak') === '1', lateness: values.get('lateness') === '1', stats: values.get('stats') === '1', health: values.get('health') === '1', calm: values.get('calm') === '1', spin: count('spin'), unspread: values.get('unspread') === '1', without: new Set((values.get('without') ?? '').split('+')) }
}

/** Error-level log lines, counted: the soak benchmark expects none. */
let errorLines = 0
const errorLog = new Writable({
  write (chunk: Buffer, _encoding, callback) {
    errorLines += chunk.toString().split('\n').filter((line) => line.length > 0).length
    process.stderr.write(chunk)
    callback()
  },
})

/**
 * Every capability registered: problem details, deadlines, dependencies
 * (one declared, not called by these routes), load shedding, chaos (an
 * experiment ready on every route, not enabled), idempotency (for routes
 * that declare it), error budgets (every route under one SLO, both
 * indicators) and metrics with their scrape route.
 */
async function registerUmbrella (app: FastifyInstance, settings: Settings, soakStore: MemoryIdempotencyStore | undefined): Promise<void> {
  const objectives = [{ name: 'api', availability: 0.999, latency: { thresholdMs: 100, target: 0.99 } }]
  for (let i = 0; i < settings.slos; i++) objectives.push({ name: `slo-${i}`, availability: 0.999, latency: { thresholdMs: 100, target: 0.99 } })
  const off = (name: string): false | object => settings.without.has(name) ? false : {}
  const every = everyCapability(!settings.without.has('metrics'))
  await app.register(resilience, {
    ...every,
    deadlines: off('deadlines'),
    loadShedding: settings.without.has('loadShedding') ? false : settings.calm ? { loopLag: { targetMs: 60_000 }, pressure: { maxEventLoopDelay: 60_000 }, limit: { minLimit: 64 } } : {},
    dependencies: settings.without.has('dependencies') ? false : every.dependencies ?? {},
    chaos: settings.without.has('chaos')
      ? false
      : settings.soak
        // The soak overloads on purpose every fourth window and fails /hang
        // on every request: every SLO burns by design there, and chaos,
        // which stops itself when a watched one does, would stop in the
        // first window. Its faults are what the soak must keep exercising.
        ? { enabled: true, allowInProduction: true, seed: 7, stopOnBudget: false as const }
        : { experiments: [{ name: 'ready', faults: [{ type: 'error', rate: 0.5, status: 503 }] }] },
    idempotency: settings.without.has('idempotency') ? false : { unscoped: true, ...(soakStore === undefined ? {} : { store: soakStore }) },
    // calm=1: the periodic evaluation (every 10 s) is work per second, not
    // per request; valgrind's slowness would put it among the counted
    // requests 50 times as often as a real run does.
    errorBudget: settings.without.has('errorBudget') ? false : { objectives, defaultObjective: 'api', ...(settings.calm ? { evaluationIntervalMs: CALM_EVALUATION_MS } : {}) },
    // Off by default in the umbrella; on with health=1.
    health: settings.health ? {} : false,
  })
}

/**
 * One capability measured alone: the umbrella with every capability that
 * is on by default left out, except problem details (which every
 * capability answers through) and metrics (each capability records its
 * own), and `capability` added.
 */
function alone (capability: Partial<ResilienceOptions> = {}): ResilienceOptions {
  return { deadlines: false, dependencies: false, loadShedding: false, chaos: false, idempotency: false, errorBudget: false, ...capability }
}

export async function build (variant: Variant, settings: Settings): Promise<FastifyInstance> {
  const app = Fastify({ logger: settings.soak ? { level: 'error', stream: errorLog } : false })
  if (settings.lateness) addLatenessProbe(app)
  if (settings.spin > 0) addSpin(app, settings.spin)
  // soak=1: the umbrella's store is the default one, made here so that /_stats can count its keys.
  const soakStore = settings.soak && variant === 'umbrella' ? new MemoryIdempotencyStore() : undefined
  if (variant === 'umbrella') await registerUmbrella(app, settings, soakStore)
  if (variant === 'problem-details') await app.register(resilience, alone())
  if (variant === 'deadlines') await app.register(resilience, alone({ deadlines: {} }))
  if (variant === 'idempotency-memory') await app.register(resilience, alone({ idempotency: { unscoped: true } }))
  if (variant === 'idempotency-redis') {
    const client = await redisClient(app)
    await app.register(resilience, alone({ idempotency: { unscoped: true, store: new RedisIdempotencyStore({ client, prefix: `bench:${process.pid}:` }) } }))
  }
  if (variant === 'redis-read') addRedisFloors(app, await redisClient(app))
  if (variant === 'under-pressure') await app.register(underPressure)
  if (variant === 'load-shedding') await app.register(resilience, alone({ loadShedding: settings.unspread ? { retryAfter: { spreadMs: 0 } } : {} }))
  // Every route under one SLO with both indicators: the full per-request recording.
  if (variant === 'error-budget') {
    await app.register(resilience, alone({ errorBudget: { objectives: [{ name: 'api', availability: 0.999, latency: { thresholdMs: 100, target: 0.99 } }], defaultObjective: 'api' } }))
  }
  // Chaos registered with a fault on every route, but not enabled: the cost of having it ready.
  if (variant === 'chaos-disabled') {
    await app.register(resilience, alone({ chaos: { experiments: [{ name: 'ready', faults: [{ type: 'error', rate: 0.5, status: 503 }] }] } }))
  }
  if (variant === 'all-metrics-off' || variant === 'all-metrics-on') {
    await app.register(resilience, everyCapability(variant === 'all-metrics-on'))
  }
  addOverloadRoutes(app)
  for (let i = 0; i < settings.routes; i++) {
    const slo = i < settings.slos && variant === 'umbrella' ? { config: { slo: `slo-${i}` } } : {}
    app.get(`/r/${i}`, slo, async () => ({ hello: 'world' }))
  }
  if (settings.soak || settings.stats) {
    app.get('/_stats', { config: libraryRouteConfig() }, async () => {
      // With --expose-gc: the heap that is live, not what waits for a collection.
      (globalThis as { gc?: () => void }).gc?.()
      return { heapUsed: process.memoryUsage().heapUsed, activeHandles: process.getActiveResourcesInfo().length, errorLines, ...(soakStore === undefined ? {} : { idempotencyKeys: soakStore.size }) }
    })
  }
  if (settings.soak) {
    app.get('/chaos', { config: { chaos: { faults: [{ type: 'error', rate: 0.2, status: 500 }, { type: 'latency', rate: 0.2, ms: 5 }] } } }, async () => ({ hello: 'world' }))
  }
  const orders = variant.startsWith('idempotency') || variant === 'umbrella' ? { config: { idempotency: {} } } : {}
  if (variant !== 'redis-read') app.post('/orders', orders, async (request) => ({ accepted: request.body }))
  app.get('/hello', async () => ({ hello: 'world' }))
  app.get('/error', async () => { throw Object.assign(new Error('no such order'), { statusCode: 404 }) })
  if (variant === 'bare') {
    // The floor for deadline precision: a plain 50 ms timer, then a 504.
    app.get('/hang', async (_request, reply) => {
      await new Promise((resolve) => setTimeout(resolve, 50))
      return reply.code(504).send({ message: 'too slow' })
    })
  }
  if (variant === 'deadlines' || variant === 'umbrella') {
    // Never answers by itself: the 504 at the deadline is the response.
    app.get('/hang', { config: { deadline: { timeoutMs: 50 } } }, async (request) => {
      await new Promise((resolve) => request.deadline.signal.addEventListener('abort', resolve))
    })
  }
  return app
}

/** Where the spin hook leaves its result, so that the compiler cannot drop the loop. */
let spun = 1

function addSpin (app: FastifyInstance, steps: number): void {
  app.addHook('onRequest', (_request, _reply, done) => {
    let x = spun
    // xorshift32: each step depends on the last, so none can be skipped.
    for (let i = 0; i < steps; i++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
    }
    spun = x | 1
    done()
  })
}

/** A client of REDIS_URL as the Redis rows configure it, ready, and closed with the app. */
async function redisClient (app: FastifyInstance): Promise<Redis> {
  const client = new Redis(process.env.REDIS_URL ?? '', { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
  await once(client, 'ready')
  app.addHook('onClose', async () => { await client.quit() })
  return client
}

/**
 * The floors of the Redis store: POST /orders reads one key from Redis
 * before it answers (a replay's round trip); POST /orders-written then
 * writes an answer of the same size to a key of its own (a first-time
 * POST's two round trips, one after the other), with no idempotency.
 */
function addRedisFloors (app: FastifyInstance, client: Redis): void {
  const key = `bench:${process.pid}:read`
  const answer = JSON.stringify({ status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ accepted: { sku: 7, quantity: 1 } }) })
  let written = 0
  app.addHook('onReady', async () => { await client.set(key, answer) })
  app.post('/orders', async (request) => {
    await client.get(key)
    return { accepted: request.body }
  })
  app.post('/orders-written', async (request) => {
    await client.get(key)
    await client.set(`${key}:${++written % 10_000}`, answer, 'PX', 60_000)
    return { accepted: request.body }
  })
}

/**
 * Routes for the overload benchmarks: /work costs 2 ms of CPU, /work/herd 10 ms; /downstream
 * waits on a downstream pool whose latency POST /_control/downstream?ms=N
 * changes. Route config is ignored by the variants without load shedding.
 */
function addOverloadRoutes (app: FastifyInstance): void {
  const work = async (): Promise<{ done: true }> => {
    burnCpu(WORK_MS)
    return { done: true }
  }
  app.get('/work', work)
  app.get('/work/critical', { config: { shedding: { priority: 'critical' } } }, work)
  app.get('/work/low', { config: { shedding: { priority: 'low' } } }, work)
  app.get('/work/herd', async () => {
    burnCpu(HERD_WORK_MS)
    return { done: true }
  })
  const downstream = new Downstream(DOWNSTREAM_WORKERS, DOWNSTREAM_MS)
  app.get('/downstream', async () => {
    await downstream.call()
    return { done: true }
  })
  app.post<{ Querystring: { ms: string } }>('/_control/downstream', { config: { shedding: false } }, async (request) => {
    downstream.latencyMs = Number(request.query.ms)
    return { latencyMs: downstream.latencyMs }
  })
}

/**
 * How late each /hang answer leaves the server after its 50 ms deadline,
 * measured inside the server from its arrival to the end of its write: the
 * client's figure less this one is the time spent in the client and on the
 * wire. The server's garbage collections are recorded alongside: V8 stops
 * the event loop for each, so a 504 due during one leaves that much later,
 * with or without the library. GET /_lateness answers the figures so far
 * and starts over.
 */
function addLatenessProbe (app: FastifyInstance): void {
  const arrivals = new WeakMap<object, number>()
  let lateness: number[] = []
  let gcPausesMs: number[] = []
  const collections = new PerformanceObserver((entries) => {
    for (const entry of entries.getEntries()) gcPausesMs.push(entry.duration)
  })
  collections.observe({ entryTypes: ['gc'] })
  app.addHook('onClose', async () => { collections.disconnect() })
  app.addHook('onRequest', (request, reply, done) => {
    if (request.url === '/hang') {
      arrivals.set(request, performance.now())
      reply.raw.once('finish', () => { lateness.push(performance.now() - (arrivals.get(request) ?? 0) - 50) })
    }
    done()
  })
  app.get('/_lateness', { config: { ...libraryRouteConfig(), deadline: false } }, async () => {
    const measured = { lateness, gcPausesMs }
    lateness = []
    gcPausesMs = []
    return measured
  })
}
