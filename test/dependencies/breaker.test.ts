import { afterEach, describe, expect, it } from 'vitest'
import type { ServerResponse } from 'node:http'
import { closedAfterEach, dependencyApp, failing, freePort, healthy, startDependency } from './helpers.js'
import type { Behaviour, DependencyServer } from './helpers.js'
import type { TestApp } from '../helpers/app.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { waitFor } from '../helpers/wait-for.js'
import type { DependencyOptions } from '../../src/dependencies/options.js'

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

describe('what the breaker counts', () => {
  const { serve, appWith } = closedAfterEach()

  /** Fails the odd calls with a 500 and answers the even ones. */
  const everyOtherFails: Behaviour = (request, response, call) => {
    if (call % 2 === 1) failing(500)(request, response, call)
    else healthy({ call })(request, response, call)
  }

  /** A route `/<name>` that calls the dependency and answers 'failed' rather than the problem when the call fails. */
  function routeTo (app: TestApp['app'], name: string): void {
    app.get(`/${name}`, async (request) => {
      try {
        return await (await request.dependency(name).fetch('/price/1')).json()
      } catch {
        return 'failed'
      }
    })
  }

  it.each<[string, Partial<DependencyOptions>]>([
    ['coalesce', { coalesce: true }],
    ['last-good', { fallback: 'last-good' }],
    ['coalesce and last-good', { coalesce: true, fallback: 'last-good' }],
  ])('with %s, counts each call once and opens at failureRate once minimumCalls is reached', async (_name, policies) => {
    const server = await serve(everyOtherFails)
    const { app } = await appWith({
      dependencies: {
        prices: {
          baseUrl: server.url,
          clock: new ManualClock(),
          retry: { attempts: 1 },
          breaker: { failureRate: 0.5, minimumCalls: 9, windowMs: 60_000, openMs: 60_000 },
          ...policies,
        },
      },
    })
    routeTo(app, 'prices')
    for (let call = 1; call <= 8; call++) {
      await app.inject('/prices')
      // The 7th call makes 4 failures in 7, over the rate but under minimumCalls.
      expect(app.dependencies.stats().prices).toMatchObject({ state: 'closed', windowCalls: call })
      if (call === 6) expect(app.dependencies.stats().prices?.failureRate).toBe(0.5)
    }
    await app.inject('/prices')
    expect(app.dependencies.stats().prices).toMatchObject({ state: 'open', windowCalls: 9, failureRate: 5 / 9 })
    await app.inject('/prices')
    expect(server.seen).toHaveLength(9)
    expect(app.dependencies.stats().prices).toMatchObject({ calls: 10, attempts: 9, failures: 5, rejections: 1 })
  })

  it('counts a shared call once for all its callers', async () => {
    const held: ServerResponse[] = []
    const server = await serve((_request, response) => { held.push(response) })
    const { app } = await appWith({ dependencies: { prices: { baseUrl: server.url, timeoutMs: 30_000, coalesce: true, fallback: 'last-good' } } })
    routeTo(app, 'prices')
    const answers = [app.inject('/prices'), app.inject('/prices'), app.inject('/prices')]
    await waitFor(() => app.dependencies.stats().prices?.calls === 3 && held.length === 1)
    held[0]?.writeHead(200, { 'content-type': 'application/json' }).end('{"price":7}')
    for (const answer of await Promise.all(answers)) expect(answer.json()).toEqual({ price: 7 })
    expect(app.dependencies.stats().prices).toMatchObject({ calls: 3, coalesced: 2, attempts: 1, windowCalls: 1, failureRate: 0 })
  })

  it('counts an answer without a body once', async () => {
    const server = await serve((_request, response) => { response.writeHead(204).end() })
    const { app } = await appWith({ dependencies: { prices: { baseUrl: server.url } } })
    app.get('/', async (request) => (await request.dependency('prices').fetch('/price/1')).status)
    app.get('/head', async (request) => (await request.dependency('prices').fetch('/price/1', { method: 'HEAD' })).status)
    await app.inject('/')
    await app.inject('/head')
    expect(app.dependencies.stats().prices).toMatchObject({ attempts: 2, windowCalls: 2 })
  })

  it('closes a half-open breaker only once as many probes as configured have succeeded, with coalesce and last-good', async () => {
    const clock = new ManualClock()
    const server = await serve(failing(500))
    const { app } = await appWith({
      dependencies: { prices: { baseUrl: server.url, clock, retry: { attempts: 1 }, coalesce: true, fallback: 'last-good', breaker: { consecutiveFailures: 1, openMs: 1_000, probes: 2 } } },
    })
    routeTo(app, 'prices')
    await app.inject('/prices')
    expect(app.dependencies.stats().prices?.state).toBe('open')
    server.behave(healthy())
    clock.advance(1_000)
    await app.inject('/prices')
    expect(app.dependencies.stats().prices?.state).toBe('half-open')
    await app.inject('/prices')
    expect(app.dependencies.stats().prices?.state).toBe('closed')
  })

  it('with retries, hedges, a bulkhead, coalesce and last-good together, counts every answered attempt once', async () => {
    // /price/3 always fails and every third request fails; some calls share one, some are
    // retried, some are hedged (when the answer takes over 1 ms).
    const server = await serve((request, response, call) => {
      if (request.url === '/price/3' || call % 3 === 1) failing(500)(request, response, call)
      else healthy({ call })(request, response, call)
    })
    const { app } = await appWith({
      dependencies: {
        prices: {
          baseUrl: server.url,
          timeoutMs: 30_000,
          coalesce: true,
          fallback: 'last-good',
          retry: { attempts: 3, backoff: { initialMs: 0, maxMs: 1 } },
          hedge: { delayMs: 1 },
          bulkhead: { maxConcurrent: 2, maxQueue: 100 },
          breaker: { failureRate: 0.99, minimumCalls: 1_000 },
        },
      },
    })
    app.get('/:id', async (request) => {
      try {
        return await (await request.dependency('prices').fetch(`/price/${(request.params as { id: string }).id}`)).json()
      } catch {
        return 'failed'
      }
    })
    for (let round = 0; round < 5; round++) await Promise.all(['/1', '/1', '/2', '/3'].map(async (url) => await app.inject(url)))
    const stats = app.dependencies.stats().prices
    if (stats === undefined) throw new Error('no stats')
    // One breaker admission covers a hedged attempt and its twin.
    expect(stats.windowCalls).toBe(stats.attempts - stats.hedges)
    expect(stats.failures).toBeGreaterThan(0)
    expect(stats.failureRate).toBe(stats.failures / stats.windowCalls)
  })
})
