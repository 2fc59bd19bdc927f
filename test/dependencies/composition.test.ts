import { afterEach, describe, expect, it } from 'vitest'
import { dependencies, problemDetails } from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import { dependencyApp, failing, hanging, startDependency } from './helpers.js'
import type { DependencyServer } from './helpers.js'
import type { TestApp } from '../helpers/app.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function failingDependency (): Promise<DependencyServer> {
  const server = await startDependency(failing(500))
  cleanups.push(server.close)
  return server
}

async function appWith (options: Parameters<typeof dependencyApp>[0]): Promise<TestApp> {
  const testApp = await dependencyApp(options)
  cleanups.push(async () => { await testApp.app.close() })
  return testApp
}

describe('dependencies alone', () => {
  it('works with problem details only, without deadlines: attempts still time out', async () => {
    const server = await startDependency(hanging)
    cleanups.push(server.close)
    const { app } = createTestApp()
    cleanups.push(async () => { await app.close() })
    await app.register(problemDetails)
    await app.register(dependencies, { ledger: { baseUrl: server.url, timeoutMs: 100 } })
    app.get('/', async (request) => await (await request.dependency('ledger').fetch('/')).json())
    const response = await app.inject('/')
    expect(response.statusCode).toBe(504)
    expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-timeout', dependency: 'ledger' })
    expect(server.seen[0]?.headers['x-request-timeout-ms']).toBeUndefined()
  })

  it('works without problem details: Fastify answers with the status and Retry-After', async () => {
    const server = await startDependency(failing(500))
    cleanups.push(server.close)
    const { app } = createTestApp()
    cleanups.push(async () => { await app.close() })
    await app.register(dependencies, { payments: { baseUrl: server.url, breaker: { consecutiveFailures: 1, openMs: 30_000 } } })
    app.get('/', async (request) => await (await request.dependency('payments').fetch('/')).json())
    expect((await app.inject('/')).statusCode).toBe(502)
    const refused = await app.inject('/')
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['content-type']).toMatch(/^application\/json/)
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(refused.json()).toMatchObject({ code: 'FRS_ERR_DEPENDENCY_UNAVAILABLE' })
  })
})

describe('dependencies with the other capabilities', () => {
  it('a fast failure frees its load-shedding slot at once: with a limit of one, refused calls never shed the next request', async () => {
    const server = await failingDependency()
    const { app } = await appWith({
      loadShedding: { limit: 1, maxQueue: 0, loopLag: false, pressure: false },
      dependencies: { payments: { baseUrl: server.url, breaker: { consecutiveFailures: 1, openMs: 60_000 } } },
    })
    app.post('/orders', async (request) => await (await request.dependency('payments').fetch('/charges', { method: 'POST' })).json())
    expect((await app.inject({ method: 'POST', url: '/orders' })).statusCode).toBe(502)
    for (let i = 0; i < 20; i++) {
      const response = await app.inject({ method: 'POST', url: '/orders' })
      expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-unavailable' })
    }
    expect(app.loadShedding.stats().inFlight).toBe(0)
  })

  it('the error budget counts dependency problems as bad events of the route', async () => {
    const server = await failingDependency()
    const { app } = await appWith({
      errorBudget: {},
      dependencies: { payments: { baseUrl: server.url, breaker: { consecutiveFailures: 1, openMs: 60_000 } } },
    })
    app.post('/orders', { config: { slo: { name: 'orders', availability: 0.99 } } }, async (request) =>
      await (await request.dependency('payments').fetch('/charges', { method: 'POST' })).json())
    await app.inject({ method: 'POST', url: '/orders' })
    await app.inject({ method: 'POST', url: '/orders' })
    const [availability] = app.errorBudget.status()
    expect(availability).toMatchObject({ name: 'orders', sli: 'availability', events: { total: 2, bad: 2 } })
  })
})
