import got from 'got'
import { Agent, interceptors, request as undiciRequest } from 'undici'
import { describe, expect, it } from 'vitest'
import { closedAfterEach, failing, hanging, healthy } from './helpers.js'

const { serve, appWith, cleanups } = closedAfterEach()

describe('third-party clients through call()', () => {
  it('got: its HTTP errors count by status, the idempotency key and budget reach the wire, retries happen under the policy', async () => {
    const server = await serve((request, response, call) => (call === 1 ? failing(502) : healthy({ call }))(request, response, call))
    const { app } = await appWith({ dependencies: { ledger: { idempotencyKeys: true, retry: { attempts: 2, backoff: { initialMs: 1 } } } } })
    app.post('/', { config: { deadline: { timeoutMs: 5000 } } }, async (request) => await request.dependency('ledger').call(async (signal, headers) =>
      await got.post(`${server.url}/entries`, { signal, headers, json: { amount: 1 }, retry: { limit: 0 } }).json()))
    expect((await app.inject({ method: 'POST', url: '/' })).json()).toEqual({ call: 2 })
    expect(server.seen).toHaveLength(2)
    expect(server.seen[0]?.headers['idempotency-key']).toBe(server.seen[1]?.headers['idempotency-key'])
    expect(Number(server.seen[1]?.headers['x-request-timeout-ms'])).toBeGreaterThan(0)
    expect(app.dependencies.stats().ledger).toMatchObject({ retries: 1, failures: 1 })
  })

  it("got: a retry waits at least the 503's Retry-After, as fetch's does", async () => {
    const times: number[] = []
    const server = await serve((request, response, call) => {
      times.push(Date.now())
      ;(call === 1 ? failing(503, { 'retry-after': '1' }) : healthy({ call }))(request, response, call)
    })
    const { app } = await appWith({ dependencies: { inventory: { retry: { attempts: 2, backoff: { initialMs: 1, maxMs: 1 } } } } })
    app.get('/', async (request) => await request.dependency('inventory').call(async (signal, headers) =>
      await got(`${server.url}/items`, { signal, headers, retry: { limit: 0 } }).json(), { idempotent: true }))
    expect((await app.inject('/')).json()).toEqual({ call: 2 })
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950)
  })

  it('got: a Retry-After longer than retry.maxDelayMs fails at once, without a second attempt', async () => {
    const server = await serve(failing(503, { 'retry-after': '2' }))
    const { app } = await appWith({ deadlines: false, dependencies: { inventory: { retry: { attempts: 3, maxDelayMs: 500, backoff: { initialMs: 1 } } } } })
    app.get('/', async (request) => await request.dependency('inventory').call(async (signal, headers) =>
      await got(`${server.url}/items`, { signal, headers, retry: { limit: 0 } }).json(), { idempotent: true }))
    const response = await app.inject('/')
    expect(response.statusCode).toBe(502)
    expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', dependency: 'inventory' })
    expect(server.seen).toHaveLength(1)
    expect(app.dependencies.stats().inventory).toMatchObject({ attempts: 1, retries: 0 })
  })

  it("undici: the responseError interceptor's 503 with a Retry-After longer than the deadline left is not retried", async () => {
    const server = await serve(failing(503, { 'retry-after': '30' }))
    const dispatcher = new Agent().compose(interceptors.responseError())
    cleanups.push(async () => { await dispatcher.close() })
    const { app } = await appWith({ dependencies: { inventory: { retry: { attempts: 3, backoff: { initialMs: 1 } } } } })
    app.get('/', { config: { deadline: { timeoutMs: 5000 } } }, async (request) => await request.dependency('inventory').call(async (signal, headers) => {
      const response = await undiciRequest(`${server.url}/items`, { signal, headers, dispatcher })
      return await response.body.json()
    }, { idempotent: true }))
    expect((await app.inject('/')).statusCode).toBe(502)
    expect(server.seen).toHaveLength(1)
  })

  it("got: a 404 is the caller's answer, passed on untouched and not counted", async () => {
    const server = await serve(failing(404))
    const { app } = await appWith({ dependencies: { ledger: { breaker: { consecutiveFailures: 1 } } } })
    app.get('/', async (request) => {
      try {
        return await request.dependency('ledger').call(async (signal) => await got(`${server.url}/missing`, { signal, retry: { limit: 0 } }).text())
      } catch (error) {
        return { caught: (error as Error).name, status: (error as { response: { statusCode: number } }).response.statusCode }
      }
    })
    expect((await app.inject('/')).json()).toEqual({ caught: 'HTTPError', status: 404 })
    expect(app.dependencies.stats().ledger).toMatchObject({ failures: 0, state: 'closed' })
  })

  it("got: a 404 the handler does not catch is the caller's answer, its status and Retry-After read from got's response, not got's message naming the upstream's URL", async () => {
    const server = await serve(failing(404, { 'x-internal-secret': 's3cr3t', 'retry-after': '3' }))
    const { app } = await appWith({ dependencies: { ledger: {} } })
    app.get('/', async (request) => await request.dependency('ledger').call(async (signal, headers) =>
      await got(`${server.url}/missing`, { signal, headers, searchParams: { api_key: 'sk_live_internal' }, retry: { limit: 0 } }).text()))
    const answer = await app.inject('/')
    expect(answer.statusCode).toBe(404)
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(answer.json()).toEqual({ type: 'about:blank', title: 'Not Found', status: 404, instance: answer.json().instance })
    expect(answer.body).not.toMatch(/sk_live_internal|127\.0\.0\.1|missing|ERR_NON_2XX/)
    expect(answer.headers['retry-after']).toBe('3')
    expect(answer.headers['x-internal-secret']).toBeUndefined()
  })

  it("undici: a 404 passed on as the caller's answer keeps its status and Retry-After, not the upstream's other headers", async () => {
    const server = await serve(failing(404, { 'x-internal-secret': 's3cr3t', 'www-authenticate': 'Basic realm="internal"', 'cache-control': 'public, max-age=3600', 'retry-after': '3' }))
    const dispatcher = new Agent().compose(interceptors.responseError())
    cleanups.push(async () => { await dispatcher.close() })
    const { app } = await appWith({ dependencies: { catalog: {} } })
    app.get('/', async (request) => await request.dependency('catalog').call(async (signal, headers) => {
      const response = await undiciRequest(`${server.url}/items`, { signal, headers, dispatcher })
      return await response.body.json()
    }, { idempotent: true }))
    // An error of the application's own still sets the headers it asks for.
    app.get('/own', async () => { throw Object.assign(new Error('gone'), { statusCode: 410, headers: { 'cache-control': 'no-store' } }) })
    const answer = await app.inject('/')
    expect(answer.statusCode).toBe(404)
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(answer.headers['retry-after']).toBe('3')
    for (const upstream of ['x-internal-secret', 'www-authenticate', 'cache-control']) expect(answer.headers[upstream]).toBeUndefined()
    expect((await app.inject('/own')).headers['cache-control']).toBe('no-store')
  })

  it('undici: a client that hangs is cut at the attempt timeout and answers dependency-timeout', async () => {
    const server = await serve(hanging)
    const { app } = await appWith({ dependencies: { ledger: { timeoutMs: 100 } } })
    app.get('/', async (request) => await request.dependency('ledger').call(async (signal, headers) => {
      const response = await undiciRequest(`${server.url}/slow`, { signal, headers })
      return await response.body.json()
    }))
    const response = await app.inject('/')
    expect(response.statusCode).toBe(504)
    expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-timeout', dependency: 'ledger' })
  })
})
