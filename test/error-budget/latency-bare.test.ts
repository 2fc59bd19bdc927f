import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { errorBudget, problemDetails } from '../../plugins/index.js'
import { parseMetrics } from './helpers.js'

// Fastify measures reply.elapsedTime only with a logger, an onResponse hook or
// a handler timeout; these apps have none of them, as the docs create them.
let app: FastifyInstance | undefined
afterEach(async () => { await app?.close() })

const SLOW_SLO = { name: 'orders', availability: 0.999, latency: { thresholdMs: 20, target: 0.99 } }

/** A route that answers after at least 80 ms (never sooner, however busy the machine). */
function addSlowRoute (instance: FastifyInstance): void {
  instance.get('/slow', { config: { slo: SLOW_SLO } }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 80))
    return { ok: true }
  })
}

async function expectCountedSlow (instance: FastifyInstance): Promise<void> {
  expect((await instance.inject('/slow')).statusCode).toBe(200)
  const latency = instance.errorBudget.status().find((status) => status.sli === 'latency')
  expect(latency?.events).toEqual({ total: 1, good: 0, bad: 1 })
  const metrics = parseMetrics(await instance.errorBudget.registry?.metrics() ?? '')
  expect(metrics.get('slo_bad_events_total{slo="orders",sli="latency",route="GET /slow",reason="slow"}')).toBe(1)
  // The histogram saw the time the answer took, not 0.
  expect(metrics.get('slo_request_duration_seconds_sum{slo="orders",route="GET /slow"}')).toBeGreaterThanOrEqual(0.075)
  expect(metrics.get('slo_request_duration_seconds_bucket{le="0.02",slo="orders",route="GET /slow"}')).toBe(0)
}

describe('error budget: latency without a logger', () => {
  it('counts a slow answer as bad through the umbrella plugin with its defaults', async () => {
    app = Fastify()
    await app.register(resilience)
    addSlowRoute(app)
    await expectCountedSlow(app)
  })

  it('counts a slow answer as bad with the errorBudget plugin alone', async () => {
    app = Fastify()
    await app.register(problemDetails)
    await app.register(errorBudget)
    addSlowRoute(app)
    await expectCountedSlow(app)
  })
})
