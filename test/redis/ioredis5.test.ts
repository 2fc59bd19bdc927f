import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { Redis } from 'ioredis5'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { RedisErrorBudgetFleet, RedisIdempotencyStore } from '../../plugins/index.js'
import { describeStoreContract } from '../idempotency/store-contract.js'
import { budgetApp } from '../error-budget/helpers.js'
import { dependencyApp, failing, startDependency } from '../dependencies/helpers.js'
import { waitFor } from '../helpers/wait-for.js'

/*
 * ioredis is an optional peer from version 5: every Redis feature with a
 * client of the last 5.x release, against a real redis-server.
 */
const clients: Redis[] = []
afterAll(async () => { for (const client of clients) client.disconnect() })

function client5 (): Redis {
  const client = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  clients.push(client)
  return client
}

describeStoreContract('RedisIdempotencyStore with ioredis 5', () => ({
  store: new RedisIdempotencyStore({ client: client5(), prefix: `test:ioredis5:${randomUUID()}:` }),
  elapse: async (ms) => { await new Promise((resolve) => setTimeout(resolve, ms)) },
}))

describe('the fleets with ioredis 5', () => {
  it('error budgets: two instances read the fleet\'s sum', async () => {
    const prefix = `test:ioredis5:${randomUUID()}:`
    const instances = await Promise.all([0, 1].map(async () => {
      const client = client5()
      await once(client, 'ready')
      const testApp = await budgetApp({ fleet: new RedisErrorBudgetFleet({ client, prefix }) })
      testApp.app.get('/pay', { config: { slo: { name: 'payments', availability: 0.99 } } }, async () => ({}))
      await testApp.app.ready()
      return testApp
    }))
    for (const { app } of instances) {
      for (let i = 0; i < 3; i++) await app.inject('/pay')
      await app.errorBudget.flushFleet()
    }
    const fleet = await instances[0]?.app.errorBudget.fleetStatus()
    expect(fleet?.scope).toBe('fleet')
    expect(fleet?.slos[0]).toMatchObject({ name: 'payments', events: { total: 6, good: 6, bad: 0 } })
    for (const { app } of instances) await app.close()
  })

  it('dependencies: a breaker opened on one instance is open on the other', async () => {
    const server = await startDependency(failing(500))
    const prefix = `test:ioredis5:${randomUUID()}:`
    const instances = await Promise.all([0, 1].map(async () => {
      const testApp = await dependencyApp({ dependencies: { payments: { baseUrl: server.url, retry: { attempts: 1 }, breaker: { consecutiveFailures: 2, openMs: 60_000 }, fleet: { client: client5(), prefix, syncMs: 50 } } } })
      testApp.app.get('/pay', async (request) => await (await request.dependency('payments').fetch('/charges')).json())
      await testApp.app.ready()
      return testApp
    }))
    const [first, second] = instances
    await first?.app.inject('/pay')
    await first?.app.inject('/pay')
    expect(first?.app.dependencies.stats().payments?.state).toBe('open')
    await waitFor(() => second?.app.dependencies.stats().payments?.state === 'open')
    expect((await second?.app.inject('/pay'))?.json()).toMatchObject({ reason: 'breaker-open' })
    for (const { app } of instances) await app.close()
    await server.close()
  })
})
