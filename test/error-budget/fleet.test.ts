import { Redis } from 'ioredis'
import { once } from 'node:events'
import { afterEach, describe, expect, inject, it } from 'vitest'
import resilience, { RedisErrorBudgetFleet } from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { budgetApp } from './helpers.js'

const clients: Redis[] = []
const apps: TestApp[] = []
afterEach(async () => {
  for (const { app } of apps.splice(0)) await app.close()
  for (const client of clients.splice(0)) client.disconnect()
})

const PAYMENTS = { name: 'payments', availability: 0.99 }

async function instance (url: string, prefix: string, now: () => number): Promise<TestApp> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null })
  clients.push(client)
  client.on('error', () => {})
  await once(client, 'ready')
  const testApp = await budgetApp({ fleet: new RedisErrorBudgetFleet({ client, prefix, clock: { now } }), statusRoute: true })
  testApp.app.get('/pay/:outcome', { config: { slo: PAYMENTS } }, async (request) => {
    if ((request.params as { outcome: string }).outcome === 'fail') throw new Error('declined upstream')
    return {}
  })
  await testApp.app.ready()
  apps.push(testApp)
  return testApp
}

describe('error budget: the fleet view through Redis', () => {
  it('sums the counts of three instances sharing one Redis', async () => {
    const prefix = `test:${process.pid}:${Date.now()}:`
    const now = (): number => Date.now()
    const instances = await Promise.all([0, 1, 2].map(async () => instance(inject('redisUrl'), prefix, now)))
    await Promise.all(instances.map(async ({ app }, index) => {
      for (let i = 0; i < 10 * (index + 1); i++) await app.inject('/pay/ok')
      await app.inject('/pay/fail')
    }))
    await Promise.all(instances.map(async ({ app }) => app.errorBudget.flushFleet()))
    const local = instances[0]?.app.errorBudget.status()
    expect(local?.[0]?.events).toEqual({ total: 11, good: 10, bad: 1 })
    const fleet = await instances[0]?.app.errorBudget.fleetStatus()
    expect(fleet?.scope).toBe('fleet')
    expect(fleet?.slos[0]).toMatchObject({ name: 'payments', events: { total: 63, good: 60, bad: 3 } })
    // Every instance sees the same fleet, also through the status route.
    const viaRoute = await instances[2]?.app.inject('/slo?scope=fleet')
    expect(viaRoute?.json()).toMatchObject({ scope: 'fleet', slos: [{ name: 'payments', events: { total: 63 } }] })
  })

  it('answers with the local status, and says why, when Redis is down', async () => {
    const server = await startRedisServer()
    try {
      const prefix = `test:${process.pid}:down:`
      const { app, logs } = await instance(server.url, prefix, () => Date.now())
      await app.inject('/pay/ok')
      await server.stop()
      await app.inject('/pay/ok')
      const fleet = await app.errorBudget.fleetStatus()
      expect(fleet.scope).toBe('local')
      expect(fleet).toMatchObject({ error: expect.stringMatching(/^the fleet store failed: /) as string, slos: [{ name: 'payments', events: { total: 2 } }] })
      expect(app.errorBudget.status()[0]?.events.total).toBe(2)
      expect(logs.some((line) => line.msg.startsWith('fleet error budget status unavailable'))).toBe(true)
    } finally {
      await server.stop()
    }
  })

  it('answers with the local status within its bound when the client the docs show queues its commands while Redis is down', async () => {
    const server = await startRedisServer()
    try {
      // ioredis' defaults: an offline queue and 20 retries per command.
      const client = new Redis(server.url)
      clients.push(client)
      client.on('error', () => {})
      await once(client, 'ready')
      const testApp = await budgetApp({ fleet: new RedisErrorBudgetFleet({ client, prefix: `test:${process.pid}:queued:` }), statusRoute: true })
      apps.push(testApp)
      const { app, logs } = testApp
      app.get('/pay', { config: { slo: PAYMENTS } }, async () => ({}))
      await app.inject('/pay')
      await server.stop()
      const started = Date.now()
      expect(await app.errorBudget.fleetStatus()).toMatchObject({ scope: 'local', error: 'the fleet store did not answer within 2000 ms', slos: [{ name: 'payments', events: { total: 1 } }] })
      expect(Date.now() - started).toBeLessThan(10_000)
      const viaRoute = await app.inject('/slo?scope=fleet')
      expect(viaRoute.statusCode).toBe(200)
      expect(viaRoute.json()).toMatchObject({ scope: 'local', slos: [{ name: 'payments' }] })
      expect(logs.some((line) => line.msg.startsWith('fleet error budget status unavailable: the fleet store did not answer in time'))).toBe(true)
    } finally {
      await server.stop()
    }
  })

  it('answers the status route with the local status before its deadline, when that comes sooner than the fleet store\'s bound', async () => {
    const server = await startRedisServer()
    try {
      const client = new Redis(server.url)
      clients.push(client)
      client.on('error', () => {})
      await once(client, 'ready')
      const testApp = createTestApp()
      apps.push(testApp)
      const { app } = testApp
      await app.register(resilience, { idempotency: false, loadShedding: false, deadlines: { defaultTimeoutMs: 1000 }, errorBudget: { fleet: new RedisErrorBudgetFleet({ client, prefix: `test:${process.pid}:short:` }), statusRoute: true, objectives: [PAYMENTS], defaultObjective: 'payments' } })
      app.get('/pay', async () => ({}))
      await app.inject('/pay')
      await server.stop()
      const viaRoute = await app.inject('/slo?scope=fleet')
      expect(viaRoute.statusCode).toBe(200)
      expect(viaRoute.json()).toMatchObject({ scope: 'local', error: expect.stringMatching(/^the fleet store did not answer within \d+ ms$/) as string, slos: [{ name: 'payments' }] })
    } finally {
      await server.stop()
    }
  })

  it('says that no fleet store is configured instead of pretending', async () => {
    const testApp = await budgetApp({})
    apps.push(testApp)
    testApp.app.get('/x', { config: { slo: PAYMENTS } }, async () => ({}))
    await testApp.app.inject('/x')
    expect(await testApp.app.errorBudget.fleetStatus()).toMatchObject({ scope: 'local', error: 'no fleet store is configured (errorBudget.fleet)', slos: [{ events: { total: 1 } }] })
  })
})
