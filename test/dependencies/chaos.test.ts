import { afterEach, describe, expect, it } from 'vitest'
import { dependencyApp, healthy, startDependency } from './helpers.js'
import type { DependencyServer } from './helpers.js'
import type { TestApp } from '../helpers/app.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup (): Promise<{ server: DependencyServer, testApp: TestApp }> {
  const server = await startDependency(healthy({ paid: true }))
  cleanups.push(server.close)
  const testApp = await dependencyApp({
    chaos: { enabled: true, seed: 7 },
    dependencies: { payments: { baseUrl: server.url, timeoutMs: 200, breaker: { consecutiveFailures: 3, openMs: 60_000 } } },
  })
  cleanups.push(async () => { await testApp.app.close() })
  testApp.app.get('/pay', async (request) => await (await request.dependency('payments').fetch('/charges')).json())
  testApp.app.get('/other', async () => ({ ok: true }))
  await testApp.app.ready()
  return { server, testApp }
}

describe('chaos on a dependency', () => {
  it('an experiment that fails a dependency opens its breaker without the dependency being called; requests themselves are not faulted', async () => {
    const { server, testApp: { app } } = await setup()
    app.chaos.start({ name: 'payments-down', seed: 1, faults: [{ type: 'error', status: 503, rate: 1, match: { dependency: 'payments' } }] })
    for (let i = 0; i < 3; i++) expect((await app.inject('/pay')).json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', dependency: 'payments' })
    expect(server.seen).toHaveLength(0)
    expect(app.dependencies.stats().payments?.state).toBe('open')
    expect((await app.inject('/pay')).statusCode).toBe(503)
    expect((await app.inject('/other')).json()).toEqual({ ok: true })
    expect(app.chaos.stats().injected.bySource['payments-down']).toBe(3)
  })

  it('a hang ends at the attempt timeout as dependency-timeout; the kill switch stops new faults', async () => {
    const { server, testApp: { app } } = await setup()
    app.chaos.start({ name: 'payments-hang', faults: [{ type: 'hang', rate: 1, match: { dependency: 'payments' } }] })
    const response = await app.inject('/pay')
    expect(response.statusCode).toBe(504)
    expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-timeout', dependency: 'payments' })
    expect(app.chaos.stats().active).toBe(0)
    app.chaos.kill('game day over')
    expect((await app.inject('/pay')).json()).toEqual({ paid: true })
    expect(server.seen).toHaveLength(1)
  })

  it('added latency delays the call, which then reaches the dependency', async () => {
    const { server, testApp: { app } } = await setup()
    app.chaos.start({ name: 'payments-slow', faults: [{ type: 'latency', ms: 50, rate: 1, match: { dependency: 'payments' } }] })
    const started = Date.now()
    expect((await app.inject('/pay')).json()).toEqual({ paid: true })
    expect(Date.now() - started).toBeGreaterThanOrEqual(45)
    expect(server.seen).toHaveLength(1)
  })

  it('an exception fault is a failed call', async () => {
    const { testApp: { app } } = await setup()
    app.chaos.start({ name: 'payments-broken', faults: [{ type: 'exception', rate: 1, match: { dependency: 'payments' } }] })
    expect((await app.inject('/pay')).json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', reason: 'network' })
  })

  it('no dependency fault while chaos is off', async () => {
    const { server, testApp: { app } } = await setup()
    app.chaos.start({ name: 'payments-down', faults: [{ type: 'error', status: 500, rate: 1, match: { dependency: 'payments' } }] })
    app.chaos.disable()
    expect((await app.inject('/pay')).json()).toEqual({ paid: true })
    expect(server.seen).toHaveLength(1)
  })
})
