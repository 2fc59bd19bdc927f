import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { Redis } from 'ioredis'
import { performance } from 'node:perf_hooks'
import resilience, { ProblemError, RedisIdempotencyStore, problemClientErrorHandler, problemFrameworkErrors } from '../../plugins/index.js'
import type { Clock } from '../../plugins/index.js'

export interface ShopOptions {
  paymentsUrl: string
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
        'payment-failed': { title: 'Payment failed', status: 502, description: 'The payment provider answered with an error; nothing was charged.' },
        'payments-unavailable': { title: 'Payments unavailable', status: 503, description: 'The payment provider could not be reached; retry later.' },
      },
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

  app.post<{ Body: { productId: number, quantity: number } }>('/orders', {
    // Orders are the business: shed last, and never for event-loop lag.
    config: {
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

    let charge: Response
    try {
      // The deadline's fetch forwards the remaining budget and aborts the
      // call when the budget runs out or the client leaves.
      charge = await request.deadline.fetch(new URL('/charges', options.paymentsUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ amount }),
      })
    } catch (error) {
      if (request.deadline.signal.aborted) throw error
      throw new ProblemError({ type: 'payments-unavailable', detail: 'The payment provider did not answer.' }, { cause: error })
    }
    if (!charge.ok) {
      throw new ProblemError({ type: 'payment-failed', detail: `The payment provider answered ${charge.status}.`, upstreamStatus: charge.status })
    }
    const { id } = await charge.json() as { id: string }
    return reply.code(201).send({ orderId: `ord_${id}`, productId: product.id, quantity: request.body.quantity, amount })
  })

  return app
}
