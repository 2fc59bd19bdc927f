import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { Redis } from 'ioredis'
import { performance } from 'node:perf_hooks'
import resilience, { RedisIdempotencyStore, problemClientErrorHandler, problemFrameworkErrors } from '../../plugins/index.js'
import type { Clock } from '../../plugins/index.js'

export interface ShopOptions {
  paymentsUrl: string
  /** The partner service behind GET /picks. */
  recommendationsUrl: string
  logger?: FastifyServerOptions['logger']
  /** Keep idempotency keys in this Redis; in memory when absent. */
  redisUrl?: string
  /** The clock of the error budget; the demo tour passes a simulated one to show a day in seconds. */
  budgetClock?: Clock
}

interface Product { id: number, name: string, price: number }

const PRODUCTS: readonly Product[] = [
  { id: 1, name: 'Espresso beans, 1 kg', price: 2400 },
  { id: 2, name: 'Hand grinder', price: 8900 },
  { id: 3, name: 'Milk jug', price: 1500 },
]

/** Ranks products for a customer; stands in for a few milliseconds of model scoring. */
function scoreRecommendations (): Product[] {
  const until = performance.now() + 4
  let spins = 0
  while (performance.now() < until) spins++
  return [...PRODUCTS].sort((a, b) => ((a.id * spins) % 7) - ((b.id * spins) % 7)).slice(0, 2)
}

/** A small shop API: products, and orders that charge a payment provider. */
export async function buildShop (options: ShopOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false, clientErrorHandler: problemClientErrorHandler, frameworkErrors: problemFrameworkErrors })
  const redis = options.redisUrl === undefined ? undefined : new Redis(options.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
  if (redis !== undefined) app.addHook('onClose', async () => { await redis.quit() })

  await app.register(resilience, {
    problemDetails: {
      typeBase: 'https://shop.example.com/problems/',
      types: {
        'product-not-found': { title: 'Product not found', status: 404, description: 'No product has this id.' },
      },
    },
    dependencies: {
      // A dead provider is given up on once half the calls of the last
      // 3 s (and at least 3) failed: orders then fail in a millisecond with
      // a Retry-After instead of waiting on it. (Real traffic would use a
      // longer window and more calls; these show at one order at a time.)
      payments: {
        baseUrl: options.paymentsUrl,
        timeoutMs: 500,
        breaker: { failureRate: 0.5, minimumCalls: 3, windowMs: 3_000, openMs: 2_000 },
      },
      // Suggestions can be a little stale: the last good answer beats none.
      recommendations: { baseUrl: options.recommendationsUrl, timeoutMs: 150, fallback: 'last-good', degradedHeader: 'x-degraded' },
    },
    errorBudget: {
      // GET /slo shows every SLO's budget; small traffic may page after 5 events.
      statusRoute: true,
      minEvents: 5,
      ...(options.budgetClock === undefined ? {} : { clock: options.budgetClock }),
    },
    // Off until a game day enables it; stops by itself if the orders SLO burns.
    chaos: { seed: 7, stopOnBudget: { slos: ['orders'] } },
    // Every capability's metrics, for Prometheus to scrape.
    metrics: { path: '/metrics', prefix: 'shop_' },
    // The live status page, for callers on this machine only.
    statusPage: { path: '/resilience', authorize: (request) => request.ip === '127.0.0.1' || request.ip === '::1' || request.ip === '::ffff:127.0.0.1' },
    idempotency: {
      // Each customer has a key space of their own.
      scope: (request) => String(request.headers['x-customer'] ?? 'guest'),
      ...(redis === undefined ? {} : { store: new RedisIdempotencyStore({ client: redis, prefix: 'shop:idempotency:' }) }),
    },
  })

  // Health checks must answer even when the shop sheds load.
  app.get('/health', { config: { shedding: false } }, async () => ({ status: 'ok' }))

  app.get('/products', async () => PRODUCTS)

  app.get<{ Params: { id: number } }>('/products/:id', {
    schema: { params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] } },
  }, async (request, reply) => {
    const product = PRODUCTS.find((candidate) => candidate.id === request.params.id)
    return product ?? reply.problem({ type: 'product-not-found', detail: `There is no product ${request.params.id}.`, productId: request.params.id })
  })

  // Nice to have and costly: scoring products takes a few milliseconds of
  // CPU, so a flood of these is what overloads the shop. Shed first.
  app.get('/recommendations', { config: { shedding: { priority: 'low' } } }, async () => scoreRecommendations())

  // Products the partner service suggests for this customer.
  app.get('/picks', { config: { dependencies: ['recommendations'] } }, async (request) => {
    const customer = encodeURIComponent(String(request.headers['x-customer'] ?? 'guest'))
    const picks = await (await request.dependency('recommendations').fetch(`/for/${customer}`)).json() as { productIds: number[], computedAt: string }
    return { ...picks, degraded: request.degraded.includes('recommendations') }
  })

  app.post<{ Body: { productId: number, quantity: number } }>('/orders', {
    // Orders are the business: shed last, and never for event-loop lag.
    config: {
      dependencies: ['payments'],
      deadline: { timeoutMs: 2000 },
      idempotency: {},
      shedding: { priority: 'critical' },
      slo: { name: 'orders', availability: 0.99, latency: { thresholdMs: 500, target: 0.95 } },
    },
    schema: {
      body: {
        type: 'object',
        required: ['productId', 'quantity'],
        additionalProperties: false,
        properties: {
          productId: { type: 'integer', minimum: 1 },
          quantity: { type: 'integer', minimum: 1, maximum: 10 },
        },
      },
    },
  }, async (request, reply) => {
    const product = PRODUCTS.find((candidate) => candidate.id === request.body.productId)
    if (product === undefined) return reply.problem({ type: 'product-not-found', status: 422, detail: `There is no product ${request.body.productId}.` })
    const amount = product.price * request.body.quantity

    // Forwards the remaining budget and aborts the call when the budget runs
    // out or the client leaves; a failure, a timeout or an open breaker
    // becomes a dependency-* problem naming `payments`.
    const charge = await request.dependency('payments').fetch('/charges', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amount }),
    })
    const { id } = await charge.json() as { id: string }
    return reply.code(201).send({ orderId: `ord_${id}`, productId: product.id, quantity: request.body.quantity, amount })
  })

  return app
}
