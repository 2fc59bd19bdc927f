import { afterEach, describe, expect, it } from 'vitest'
// A second installed copy of prom-client, as an application bundling its own would have.
import { Registry as ApplicationRegistry } from 'prom-client-copy'
import { Registry as LibraryRegistry } from 'prom-client'
import type { TestApp } from '../helpers/app.js'
import { budgetApp, parseMetrics } from './helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

describe('error budget: a registry from the application\'s own copy of prom-client', () => {
  it('the two copies are distinct classes, as in an application that installed its own', () => {
    expect(ApplicationRegistry).not.toBe(LibraryRegistry)
  })

  it('is accepted, and the SLO metrics appear in it', async () => {
    const registry = new ApplicationRegistry()
    current = await budgetApp({ metrics: { registry } })
    const { app } = current
    app.get('/orders', { config: { slo: { name: 'orders', availability: 0.99, latency: { thresholdMs: 1000, target: 0.9 } } } }, async () => ({}))
    await app.ready()
    for (let i = 0; i < 3; i++) await app.inject('/orders')
    expect(app.errorBudget.registry).toBe(registry)
    const metrics = parseMetrics(await registry.metrics())
    expect(metrics.get('slo_events_total{slo="orders",sli="availability",route="GET /orders",result="good"}')).toBe(3)
    expect(metrics.get('slo_request_duration_seconds_count{slo="orders",route="GET /orders"}')).toBe(3)
  })

  it('something that is not a registry is still refused at registration', async () => {
    await expect(budgetApp({ metrics: { registry: { metrics: 'nope' } as never } })).rejects.toThrow(/errorBudget\.metrics\.registry/)
  })
})
