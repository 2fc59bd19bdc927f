import Fastify from 'fastify'
import { Counter, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import resilience, { loadShedding, metrics, problemDetails } from '../../plugins/index.js'
import { parseExposition, valueOf } from './helpers.js'

/*
 * The umbrella's metrics option: the application's own registry, a
 * prefix, the opt-in route, turning metrics off, error budgets' own
 * option, and clear errors for bad values.
 */

describe('metrics options', () => {
  it('registers every capability on the application\'s own registry, beside its own metrics', async () => {
    const registry = new Registry()
    const orders = new Counter({ name: 'shop_orders_total', help: 'Orders taken.', registers: [registry] })
    const app = Fastify()
    await app.register(resilience, { metrics: { registry, prefix: 'shop_', path: '/internal/metrics' }, errorBudget: { objectives: [{ name: 'api', availability: 0.99 }], defaultObjective: 'api' } })
    app.get('/orders', async () => { orders.inc(); return [] })
    expect((await app.inject('/orders')).statusCode).toBe(200)
    const response = await app.inject('/internal/metrics')
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe(registry.contentType)
    const samples = parseExposition(response.body)
    expect(valueOf(samples, 'shop_orders_total')).toBe(1)
    expect(valueOf(samples, 'shop_load_shedding_admitted_total')).toBe(1)
    expect(valueOf(samples, 'shop_slo_events_total', { route: 'GET /orders', result: 'good' })).toBe(1)
    expect(app.resilienceMetrics.registry).toBe(registry)
    expect(app.errorBudget.registry).toBe(registry)
    await app.close()
  })

  it('serves no route without a path', async () => {
    const app = Fastify()
    await app.register(resilience)
    expect((await app.inject('/metrics')).statusCode).toBe(404)
    expect(await app.resilienceMetrics.registry.metrics()).toContain('load_shedding_shed_total')
    await app.close()
  })

  it('metrics: false registers no metrics, error budgets\' included', async () => {
    const app = Fastify()
    await app.register(resilience, { metrics: false, errorBudget: { objectives: [{ name: 'api', availability: 0.99 }], defaultObjective: 'api' } })
    await app.ready()
    expect(app.hasDecorator('resilienceMetrics')).toBe(false)
    expect(app.errorBudget.registry).toBeUndefined()
    await app.close()
  })

  it('error budgets keep their own metrics option, and are then left out of the shared dashboard', async () => {
    const own = new Registry()
    const app = Fastify()
    await app.register(resilience, { metrics: { path: '/metrics' }, errorBudget: { objectives: [{ name: 'api', availability: 0.99 }], defaultObjective: 'api', metrics: { registry: own, prefix: 'slo_only_' } } })
    app.get('/hello', async () => 'hi')
    await app.inject('/hello')
    expect(app.errorBudget.registry).toBe(own)
    expect(await own.metrics()).toContain('slo_only_slo_events_total')
    const shared = (await app.inject('/metrics')).body
    expect(shared).not.toContain('slo_events_total')
    expect(app.resilienceMetrics.grafanaDashboard().panels.filter((panel) => panel.type === 'row').map((panel) => panel.title)).not.toContain('Error budgets')
    await app.close()
  })

  it('adds up the counts of a capability registered in two encapsulated contexts', async () => {
    const app = Fastify()
    await app.register(problemDetails)
    await app.register(metrics, { path: '/metrics' })
    for (const prefix of ['/a', '/b']) {
      await app.register(async (child) => {
        await child.register(loadShedding, { limit: 1, loopLag: false, pressure: false })
        child.get('/hello', async () => 'hi')
      }, { prefix })
    }
    await app.inject('/a/hello')
    await app.inject('/b/hello')
    await app.inject('/b/hello')
    const samples = parseExposition((await app.inject('/metrics')).body)
    expect(valueOf(samples, 'load_shedding_admitted_total')).toBe(3)
    expect(samples.filter((sample) => sample.name === 'load_shedding_concurrency_limit')).toHaveLength(1)
    expect(valueOf(samples, 'load_shedding_concurrency_limit', { pool: 'shared' })).toBe(2)
    await app.close()
  })

  it('app.resilienceMetrics.grafanaDashboard(options) refuses a key it does not know and a rate interval PromQL cannot read', async () => {
    const app = Fastify()
    await app.register(resilience, { metrics: { prefix: 'shop_' } })
    await app.ready()
    expect(() => app.resilienceMetrics.grafanaDashboard({ rateInterval: '1m', titel: 'typo' } as never)).toThrow(expect.objectContaining({
      code: 'FRS_ERR_OPTION_UNKNOWN',
      message: "fastify-resilience: unknown option 'titel' in grafanaDashboard options; expected one of: title, uid, rateInterval",
    }))
    expect(() => app.resilienceMetrics.grafanaDashboard({ rateInterval: 'five minutes' })).toThrow(expect.objectContaining({
      code: 'FRS_ERR_OPTION_INVALID',
      message: expect.stringContaining("option 'grafanaDashboard rateInterval' expects a Prometheus duration") as string,
    }))
    const dashboard = app.resilienceMetrics.grafanaDashboard({ title: 'Shop', uid: 'shop', rateInterval: '$__rate_interval' })
    expect(dashboard).toMatchObject({ title: 'Shop', uid: 'shop' })
    expect(dashboard.panels.flatMap((panel) => panel.targets ?? []).some((target) => target.expr.includes('rate(shop_load_shedding_shed_total[$__rate_interval])'))).toBe(true)
    await app.close()
  })

  it.each([
    [{ prefix: 'bad-prefix' }, /'metrics\.prefix' expects a Prometheus metric name prefix/],
    [{ path: 'metrics' }, /'metrics\.path' expects a path starting with \//],
    [{ registry: {} }, /'metrics\.registry' expects a prom-client Registry/],
    [{ paths: '/metrics' }, /paths/],
    ['on', /'metrics' expects an object or false/],
  ])('refuses metrics %j with a clear message', async (value, message) => {
    const app = Fastify()
    await expect(app.register(resilience, { metrics: value as never })).rejects.toThrow(message)
    await app.close().catch(() => {})
  })
})
