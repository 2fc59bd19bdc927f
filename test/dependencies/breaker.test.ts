import { afterEach, describe, expect, it } from 'vitest'
import { dependencyApp, failing, freePort, healthy, startDependency } from './helpers.js'
import type { DependencyServer } from './helpers.js'
import type { TestApp } from '../helpers/app.js'

let server: DependencyServer | undefined
let testApp: TestApp | undefined
afterEach(async () => {
  await testApp?.app.close()
  await server?.close()
  testApp = undefined
  server = undefined
})

describe('circuit breaker over real HTTP', () => {
  it('opens after enough failures and then refuses at once with dependency-unavailable and Retry-After, without calling the dependency', async () => {
    server = await startDependency(failing(500))
    testApp = await dependencyApp({
      dependencies: { payments: { baseUrl: server.url, breaker: { failureRate: 0.5, minimumCalls: 4, openMs: 30_000 } } },
    })
    testApp.app.get('/orders', async (request) => {
      const response = await request.dependency('payments').fetch('/charges')
      return await response.json()
    })
    for (let i = 0; i < 4; i++) {
      const response = await testApp.app.inject('/orders')
      expect(response.statusCode).toBe(502)
      expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', dependency: 'payments', status: 502 })
      expect(response.body).not.toContain('secret')
    }
    expect(testApp.app.dependencies.stats().payments?.state).toBe('open')
    const refused = await testApp.app.inject('/orders')
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(refused.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-unavailable', dependency: 'payments', reason: 'breaker-open' })
    const retryAfter = Number(refused.headers['retry-after'])
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(30)
    expect(server.seen).toHaveLength(4)
    expect(testApp.app.dependencies.stats().payments).toMatchObject({ calls: 5, rejections: 1, failures: 4 })
    const opened = testApp.logs.filter((line) => line.msg === 'dependency breaker opened')
    expect(opened).toHaveLength(1)
  })

  it('does not count 4xx answers as failures and hands them to the handler', async () => {
    server = await startDependency(failing(404))
    testApp = await dependencyApp({ dependencies: { catalog: { baseUrl: server.url, breaker: { consecutiveFailures: 2 } } } })
    testApp.app.get('/item', async (request) => {
      const response = await request.dependency('catalog').fetch('/items/1')
      return { upstream: response.status }
    })
    for (let i = 0; i < 5; i++) expect((await testApp.app.inject('/item')).json()).toEqual({ upstream: 404 })
    expect(testApp.app.dependencies.stats().catalog).toMatchObject({ state: 'closed', failures: 0, calls: 5 })
  })

  it('counts 429 as a failure by default, and statuses chosen by failureStatus otherwise', async () => {
    server = await startDependency(failing(429))
    testApp = await dependencyApp({
      dependencies: {
        strict: { baseUrl: server.url, breaker: { consecutiveFailures: 2 } },
        lenient: { baseUrl: server.url, breaker: { consecutiveFailures: 2 }, failureStatus: (status) => status >= 500 },
      },
    })
    testApp.app.get('/:name', async (request) => {
      const response = await request.dependency((request.params as { name: string }).name).fetch('/')
      return { upstream: response.status }
    })
    expect((await testApp.app.inject('/strict')).statusCode).toBe(502)
    expect((await testApp.app.inject('/strict')).statusCode).toBe(502)
    expect((await testApp.app.inject('/strict')).statusCode).toBe(503)
    for (let i = 0; i < 3; i++) expect((await testApp.app.inject('/lenient')).json()).toEqual({ upstream: 429 })
    expect(testApp.app.dependencies.stats().lenient?.state).toBe('closed')
  })

  it('treats a refused connection as a failure: 502 dependency-failed', async () => {
    const port = await freePort()
    testApp = await dependencyApp({ dependencies: { gone: { baseUrl: `http://127.0.0.1:${port}`, breaker: { consecutiveFailures: 2, openMs: 60_000 } } } })
    testApp.app.get('/', async (request) => await (await request.dependency('gone').fetch('/')).text())
    const first = await testApp.app.inject('/')
    expect(first.statusCode).toBe(502)
    expect(first.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', dependency: 'gone', reason: 'network' })
    await testApp.app.inject('/')
    expect(testApp.app.dependencies.stats().gone?.state).toBe('open')
    expect((await testApp.app.inject('/')).statusCode).toBe(503)
  })

  it('half-opens after openMs, lets one probe through, and closes when it succeeds', async () => {
    server = await startDependency(failing(503))
    testApp = await dependencyApp({ dependencies: { payments: { baseUrl: server.url, breaker: { consecutiveFailures: 2, openMs: 200 } } } })
    const changes: string[] = []
    testApp.app.dependencies.onStateChange((change) => changes.push(`${change.from}->${change.to}`))
    testApp.app.get('/', async (request) => await (await request.dependency('payments').fetch('/')).json())
    await testApp.app.inject('/')
    await testApp.app.inject('/')
    expect(testApp.app.dependencies.stats().payments?.state).toBe('open')
    server.behave(healthy({ paid: true }))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const probe = await testApp.app.inject('/')
    expect(probe.json()).toEqual({ paid: true })
    expect(testApp.app.dependencies.stats().payments?.state).toBe('closed')
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed'])
    expect(server.seen).toHaveLength(3)
  })
})
