import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { Counter, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { expectMetricsClean } from '../helpers/promtool.js'
import { parseExposition, valueOf } from './helpers.js'

/*
 * The application's own registry given to more than one umbrella: sibling
 * contexts of one app, and apps built one after the other (a test suite,
 * a hot reload), each registering the same metric names.
 */

const options = (registry: Registry): Parameters<typeof resilience>[1] => ({
  metrics: { registry, prefix: 'shop_' },
  errorBudget: { objectives: [{ name: 'api', availability: 0.99 }], defaultObjective: 'api' },
})

async function requests (app: FastifyInstance, url: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) expect((await app.inject(url)).statusCode).toBe(200)
}

/** The library's metric names in the registry (those under its prefix). */
async function libraryMetrics (registry: Registry): Promise<string[]> {
  return (await registry.getMetricsAsJSON()).map((metric) => metric.name).filter((name) => name.startsWith('shop_'))
}

describe('metrics: one application registry shared by several umbrellas', () => {
  it('two sibling prefixes, each with the umbrella, register on it and one scrape adds up their counts', async () => {
    const registry = new Registry()
    const app = Fastify()
    for (const prefix of ['/v1', '/v2']) {
      await app.register(async (version) => {
        await version.register(resilience, options(registry))
        version.get('/orders', async () => [])
      }, { prefix })
    }
    await requests(app, '/v1/orders', 2)
    await requests(app, '/v2/orders', 3)
    const refused = await app.inject({ url: '/v2/orders', headers: { 'x-request-timeout-ms': '1' } })
    expect(refused.statusCode).toBe(504)

    const exposition = await registry.metrics()
    const samples = parseExposition(exposition)
    expect(valueOf(samples, 'shop_load_shedding_admitted_total')).toBe(5)
    expect(valueOf(samples, 'shop_slo_events_total', { route: 'GET /v1/orders', result: 'good' })).toBe(2)
    expect(valueOf(samples, 'shop_slo_events_total', { route: 'GET /v2/orders', result: 'good' })).toBe(3)
    expect(valueOf(samples, 'shop_slo_request_duration_seconds_count', { route: 'GET /v1/orders' })).toBe(2)
    // The 504 to a caller whose budget was spent on arrival is left out of the SLO, and counted apart.
    expect(valueOf(samples, 'shop_slo_request_duration_seconds_count', { route: 'GET /v2/orders' })).toBe(3)
    expect(valueOf(samples, 'shop_slo_uncounted_events_total', { route: 'GET /v2/orders', reason: 'caller-budget-spent' })).toBe(1)
    expect(valueOf(samples, 'shop_deadline_requests_total', { route: 'GET /v2/orders', outcome: 'refused' })).toBe(1)
    expect(valueOf(samples, 'shop_deadline_requests_total', { route: 'GET /v1/orders', outcome: 'refused' })).toBe(0)
    await expectMetricsClean(exposition)

    await app.close()
    expect(await libraryMetrics(registry)).toEqual([])
  })

  it('an app built again on it after a close registers, and the closed app\'s series are gone', async () => {
    const registry = new Registry()
    const orders = new Counter({ name: 'orders_total', help: 'Orders taken.', registers: [registry] })
    const build = async (): Promise<FastifyInstance> => {
      const app = Fastify()
      await app.register(resilience, options(registry))
      app.get('/orders', async () => { orders.inc(); return [] })
      await app.ready()
      return app
    }

    const first = await build()
    await requests(first, '/orders', 3)
    const registered = await libraryMetrics(registry)
    expect(registered).toContain('shop_load_shedding_admitted_total')
    expect(registered).toContain('shop_slo_request_duration_seconds')
    await first.close()
    expect(await libraryMetrics(registry)).toEqual([])
    // The application's own metrics stay.
    expect(valueOf(parseExposition(await registry.metrics()), 'orders_total')).toBe(3)

    const second = await build()
    await requests(second, '/orders', 1)
    expect((await libraryMetrics(registry)).sort()).toEqual([...registered].sort())
    const samples = parseExposition(await registry.metrics())
    expect(valueOf(samples, 'shop_load_shedding_admitted_total')).toBe(1)
    expect(valueOf(samples, 'shop_slo_events_total', { route: 'GET /orders', result: 'good' })).toBe(1)
    expect(valueOf(samples, 'orders_total')).toBe(4)
    await second.close()
  })

  it('closing one of two apps on it leaves the other\'s metrics, with its counts alone', async () => {
    const registry = new Registry()
    const apps: FastifyInstance[] = []
    for (const name of ['a', 'b']) {
      const app = Fastify()
      await app.register(resilience, options(registry))
      app.get(`/${name}`, async () => name)
      apps.push(app)
    }
    const [a, b] = apps as [FastifyInstance, FastifyInstance]
    await requests(a, '/a', 2)
    await requests(b, '/b', 1)
    expect(valueOf(parseExposition(await registry.metrics()), 'shop_load_shedding_admitted_total')).toBe(3)

    await a.close()
    const exposition = await registry.metrics()
    const samples = parseExposition(exposition)
    expect(valueOf(samples, 'shop_load_shedding_admitted_total')).toBe(1)
    expect(samples.filter((sample) => sample.labels.route === 'GET /a')).toEqual([])
    expect(valueOf(samples, 'shop_slo_request_duration_seconds_count', { route: 'GET /b' })).toBe(1)
    await expectMetricsClean(exposition)

    await b.close()
    expect(await libraryMetrics(registry)).toEqual([])
  })
})
