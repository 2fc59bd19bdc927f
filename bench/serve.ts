import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import underPressure from '@fastify/under-pressure'
import resilience, { RedisIdempotencyStore } from '../plugins/index.js'
import { DOWNSTREAM_MS, DOWNSTREAM_WORKERS, Downstream, WORK_MS, burnCpu, everyCapability } from './workloads.js'

/*
 * A benchmark target, run in its own process so that the load generator
 * does not share its event loop. Usage: serve.ts <variant>; prints the
 * port it listens on.
 */

export const VARIANTS = ['bare', 'problem-details', 'deadlines', 'idempotency-memory', 'idempotency-redis', 'under-pressure', 'load-shedding', 'error-budget', 'chaos-disabled', 'all-metrics-off', 'all-metrics-on'] as const
export type Variant = typeof VARIANTS[number]

async function build (variant: Variant): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  if (variant === 'problem-details') await app.register(resilience, { deadlines: false })
  if (variant === 'deadlines') await app.register(resilience)
  // Deadlines off: these rows measure idempotency alone against the bare route.
  if (variant === 'idempotency-memory') await app.register(resilience, { deadlines: false, idempotency: { unscoped: true } })
  if (variant === 'idempotency-redis') {
    const client = new Redis(process.env.REDIS_URL ?? '', { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
    await once(client, 'ready')
    await app.register(resilience, { deadlines: false, idempotency: { unscoped: true, store: new RedisIdempotencyStore({ client, prefix: `bench:${process.pid}:` }) } })
    app.addHook('onClose', async () => { await client.quit() })
  }
  if (variant === 'under-pressure') await app.register(underPressure)
  // Deadlines off: these rows measure load shedding (with problem details) alone.
  if (variant === 'load-shedding') await app.register(resilience, { deadlines: false })
  if (variant === 'error-budget') {
    // Every route under one SLO with both indicators, metrics on: the full per-request recording.
    await app.register(resilience, {
      deadlines: false,
      loadShedding: false,
      errorBudget: { objectives: [{ name: 'api', availability: 0.999, latency: { thresholdMs: 100, target: 0.99 } }], defaultObjective: 'api' },
    })
  }
  // Chaos registered with a fault on every route, but not enabled: the cost of having it ready.
  if (variant === 'chaos-disabled') {
    await app.register(resilience, {
      deadlines: false,
      loadShedding: false,
      idempotency: false,
      errorBudget: false,
      chaos: { experiments: [{ name: 'ready', faults: [{ type: 'error', rate: 0.5, status: 503 }] }] },
    })
  }
  if (variant === 'all-metrics-off' || variant === 'all-metrics-on') {
    await app.register(resilience, everyCapability(variant === 'all-metrics-on'))
  }
  addOverloadRoutes(app)
  const orders = variant.startsWith('idempotency') ? { config: { idempotency: {} } } : {}
  app.post('/orders', orders, async (request) => ({ accepted: request.body }))
  app.get('/hello', async () => ({ hello: 'world' }))
  app.get('/error', async () => { throw Object.assign(new Error('no such order'), { statusCode: 404 }) })
  if (variant === 'bare') {
    // The floor for deadline precision: a plain 50 ms timer, then a 504.
    app.get('/hang', async (_request, reply) => {
      await new Promise((resolve) => setTimeout(resolve, 50))
      return reply.code(504).send({ message: 'too slow' })
    })
  }
  if (variant === 'deadlines') {
    // Never answers by itself: the 504 at the deadline is the response.
    app.get('/hang', { config: { deadline: { timeoutMs: 50 } } }, async (request) => {
      await new Promise((resolve) => request.deadline.signal.addEventListener('abort', resolve))
    })
  }
  return app
}

/**
 * Routes for the overload benchmarks: /work costs 2 ms of CPU; /downstream
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

const variant = process.argv[2] as Variant
if (!VARIANTS.includes(variant)) throw new TypeError(`serve.ts expects one of ${VARIANTS.join(', ')}, instead got ${String(variant)}`)
const app = await build(variant)
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : ''}\n`)
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
