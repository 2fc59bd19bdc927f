import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
// A second installed copy of prom-client, as an application bundling its own would have.
import { Counter, Registry } from 'prom-client-copy'
import resilience from '../../plugins/index.js'
import { parseExposition, valueOf } from './helpers.js'

describe('metrics: a registry from the application\'s own copy of prom-client', () => {
  it('is accepted, and every capability\'s metrics appear in it beside the application\'s', async () => {
    const registry = new Registry()
    const orders = new Counter({ name: 'shop_orders_total', help: 'Orders taken.', registers: [registry] })
    const app = Fastify()
    await app.register(resilience, { metrics: { registry, prefix: 'shop_', path: '/metrics' }, errorBudget: { objectives: [{ name: 'api', availability: 0.99 }], defaultObjective: 'api' } })
    app.get('/orders', async () => { orders.inc(); return [] })
    expect((await app.inject('/orders')).statusCode).toBe(200)
    const response = await app.inject('/metrics')
    expect(response.statusCode).toBe(200)
    const samples = parseExposition(response.body)
    expect(valueOf(samples, 'shop_orders_total')).toBe(1)
    expect(valueOf(samples, 'shop_load_shedding_admitted_total')).toBe(1)
    expect(valueOf(samples, 'shop_slo_events_total', { route: 'GET /orders', result: 'good' })).toBe(1)
    expect(app.resilienceMetrics.registry).toBe(registry)
    await app.close()
  })
})
