import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import resilience, { MemoryIdempotencyStore } from '../../plugins/index.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'
import { closedAfterEach, failing, healthy } from './helpers.js'
import type { Behaviour } from './helpers.js'
import type { TestApp } from '../helpers/app.js'

const { serve, appWith, cleanups } = closedAfterEach()

/** Fails the first `failures` calls with `status` (and headers), then answers 200. */
const failFirst = (failures: number, status = 500, headers: () => Record<string, string> = () => ({})): Behaviour => (request, response, call) => {
  if (call <= failures) failing(status, headers())(request, response, call)
  else healthy({ call })(request, response, call)
}

const arrivals = (times: number[]): Behaviour => (request, response, call) => {
  times.push(Date.now())
  ;(call === 1 ? failing(503, { 'retry-after': '1' }) : healthy({ call }))(request, response, call)
}

/**
 * A provider whose POST /charges (answered by `charge`) requires keys of
 * this library's own idempotency capability, with its default 10 s lease,
 * and an app whose `payments` dependency sends keys: 200 ms attempts,
 * retried at once.
 */
async function keyedPayments (charge: (body: unknown) => Promise<unknown>): Promise<TestApp['app']> {
  const provider = Fastify()
  cleanups.push(async () => { await provider.close() })
  await provider.register(resilience, { idempotency: { store: new MemoryIdempotencyStore(), unscoped: true } })
  provider.post('/charges', { config: { idempotency: { required: true } } }, async (request) => await charge(request.body))
  const port = await listen(provider)
  const { app } = await appWith({ dependencies: { payments: { baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 200, idempotencyKeys: true, breaker: false, retry: { attempts: 3, backoff: { initialMs: 1, maxMs: 5 } } } } })
  return app
}

describe('retries', () => {
  it('retries an idempotent GET after failures, each attempt carrying the shrinking budget header', async () => {
    const server = await serve(failFirst(2))
    const { app } = await appWith({ dependencies: { catalog: { baseUrl: server.url, retry: { attempts: 3, backoff: { initialMs: 1, maxMs: 5 } } } } })
    app.get('/', { config: { deadline: { timeoutMs: 5000 } } }, async (request) => await (await request.dependency('catalog').fetch('/items')).json())
    const response = await app.inject('/')
    expect(response.json()).toEqual({ call: 3 })
    expect(server.seen).toHaveLength(3)
    const budgets = server.seen.map((seen) => Number(seen.headers['x-request-timeout-ms']))
    expect(budgets.every((budget) => budget > 0 && budget <= 5000)).toBe(true)
    expect(budgets[2]).toBeLessThanOrEqual(budgets[0]!)
    expect(app.dependencies.stats().catalog).toMatchObject({ calls: 1, attempts: 3, retries: 2, failures: 2 })
  })

  it('never retries a POST to a dependency that does not take idempotency keys', async () => {
    const server = await serve(failFirst(1))
    const { app } = await appWith({ dependencies: { payments: { baseUrl: server.url, retry: { attempts: 3, backoff: { initialMs: 1 } } } } })
    app.post('/', async (request) => await (await request.dependency('payments').fetch('/charges', { method: 'POST', body: '{}' })).json())
    expect((await app.inject({ method: 'POST', url: '/' })).statusCode).toBe(502)
    expect(server.seen).toHaveLength(1)
  })

  it('retries a POST when the dependency takes idempotency keys, every attempt with the same key', async () => {
    const server = await serve(failFirst(2))
    const { app } = await appWith({ dependencies: { payments: { baseUrl: server.url, idempotencyKeys: true, retry: { attempts: 3, backoff: { initialMs: 1 } } } } })
    app.post('/', async (request) => await (await request.dependency('payments').fetch('/charges', { method: 'POST', body: '{"amount":5}' })).json())
    expect((await app.inject({ method: 'POST', url: '/' })).json()).toEqual({ call: 3 })
    const keys = server.seen.map((seen) => seen.headers['idempotency-key'])
    expect(keys).toHaveLength(3)
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/)
    expect(new Set(keys).size).toBe(1)
    expect(server.seen.every((seen) => seen.body === '{"amount":5}')).toBe(true)
    // A second call gets a key of its own.
    await app.inject({ method: 'POST', url: '/' })
    expect(server.seen.at(-1)?.headers['idempotency-key']).not.toBe(keys[0])
  })

  it("keeps the caller's own key, in any header-name case, on every attempt and every call that passes it", async () => {
    const server = await serve((request, response, call) => { (call % 2 === 1 ? failing() : healthy())(request, response, call) })
    const { app } = await appWith({ dependencies: { payments: { baseUrl: server.url, idempotencyKeys: true, retry: { attempts: 3, backoff: { initialMs: 1 } } } } })
    app.post('/', async (request) => {
      const headers = { 'Idempotency-Key': String(request.headers['idempotency-key']) }
      return await (await request.dependency('payments').fetch('/charges', { method: 'POST', headers, body: '{}' })).json()
    })
    // The client sends its request twice with one key; each time the first attempt fails and is retried.
    for (let i = 0; i < 2; i++) expect((await app.inject({ method: 'POST', url: '/', headers: { 'idempotency-key': 'order-42' } })).statusCode).toBe(200)
    expect(server.seen.map((seen) => seen.headers['idempotency-key'])).toEqual(['order-42', 'order-42', 'order-42', 'order-42'])
  })

  it("a charge retried after its answer was lost runs once on a dependency guarded by this library's idempotency capability", async () => {
    const provider = Fastify()
    cleanups.push(async () => { await provider.close() })
    await provider.register(resilience, { idempotency: { store: new MemoryIdempotencyStore(), unscoped: true } })
    let executions = 0
    let answers = 0
    provider.post<{ Body: { amount: number } }>('/charges', { config: { idempotency: { required: true } } }, async (request) => {
      executions++
      return { charged: request.body.amount }
    })
    // The first answer is lost on the way back, after the provider stored it.
    provider.addHook('onSend', async (_request, reply, payload) => {
      if (++answers === 1) reply.raw.destroy()
      return payload
    })
    const port = await listen(provider)
    const { app } = await appWith({ dependencies: { payments: { baseUrl: `http://127.0.0.1:${port}`, idempotencyKeys: true, retry: { attempts: 3, backoff: { initialMs: 1 } } } } })
    app.post('/orders', async (request) => {
      const response = await request.dependency('payments').fetch('/charges', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"amount":42}' })
      return { status: response.status, body: await response.json() as unknown }
    })
    const response = await app.inject({ method: 'POST', url: '/orders' })
    expect(response.json()).toEqual({ status: 200, body: { charged: 42 } })
    expect(answers).toBe(2)
    expect(executions).toBe(1)
  })

  it('honours Retry-After in seconds', async () => {
    const times: number[] = []
    const server = await serve(() => {})
    server.behave(arrivals(times))
    const { app } = await appWith({ dependencies: { search: { baseUrl: server.url, retry: { attempts: 2, backoff: { initialMs: 1, maxMs: 1 } } } } })
    app.get('/', async (request) => await (await request.dependency('search').fetch('/')).json())
    expect((await app.inject('/')).json()).toEqual({ call: 2 })
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950)
  })

  it('honours Retry-After as an HTTP-date', async () => {
    const times: number[] = []
    const server = await serve((request, response, call) => {
      times.push(Date.now())
      // Two seconds ahead at one-second resolution: a wait of more than one second.
      if (call === 1) failing(503, { 'retry-after': new Date(Date.now() + 2000).toUTCString() })(request, response, call)
      else healthy({ call })(request, response, call)
    })
    const { app } = await appWith({ dependencies: { search: { baseUrl: server.url, retry: { attempts: 2, backoff: { initialMs: 1, maxMs: 1 } } } } })
    app.get('/', async (request) => await (await request.dependency('search').fetch('/')).json())
    expect((await app.inject('/')).json()).toEqual({ call: 2 })
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950)
  })

  it('does not retry when the advertised wait is longer than the deadline left', async () => {
    const server = await serve(failing(503, { 'retry-after': '30' }))
    const { app } = await appWith({ dependencies: { search: { baseUrl: server.url, retry: { attempts: 3, backoff: { initialMs: 1 } } } } })
    app.get('/', { config: { deadline: { timeoutMs: 5000 } } }, async (request) => await (await request.dependency('search').fetch('/')).json())
    const started = Date.now()
    const response = await app.inject('/')
    expect(response.statusCode).toBe(502)
    expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', dependency: 'search' })
    expect(Date.now() - started).toBeLessThan(4000)
    expect(server.seen).toHaveLength(1)
  })

  it('does not start a retry that cannot finish in the deadline, even before any call has succeeded', async () => {
    // Every call fails after a second; the deadline leaves room for one
    // attempt, not two. No success has been seen, so the failed attempt's
    // own second is the only measure of how long a retry would take.
    const server = await serve((request, response, call) => {
      setTimeout(() => { failing(500)(request, response, call) }, 1000)
    })
    const { app } = await appWith({ dependencies: { ledger: { baseUrl: server.url, timeoutMs: 5000, breaker: false, retry: { attempts: 3, backoff: { initialMs: 1, maxMs: 5 } } } } })
    app.get('/', { config: { deadline: { timeoutMs: 1800 } } }, async (request) => await (await request.dependency('ledger').fetch('/')).json())
    const response = await app.inject('/')
    expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', dependency: 'ledger' })
    expect(response.statusCode).toBe(502)
    expect(server.seen).toHaveLength(1)
    expect(app.dependencies.stats().ledger).toMatchObject({ attempts: 1, retries: 0 })
  })

  it('stops retrying once the budget is spent, and the original failure surfaces', async () => {
    const server = await serve(failing(500))
    // No ratio, a floor of one retry in the window.
    const { app } = await appWith({ dependencies: { flaky: { baseUrl: server.url, breaker: false, retry: { attempts: 3, backoff: { initialMs: 1 }, budget: { ratio: 0, minPerSecond: 0.1, windowMs: 10_000 } } } } })
    app.get('/', async (request) => await (await request.dependency('flaky').fetch('/')).json())
    for (let i = 0; i < 5; i++) expect((await app.inject('/')).statusCode).toBe(502)
    expect(server.seen).toHaveLength(6)
    expect(app.dependencies.stats().flaky).toMatchObject({ calls: 5, retries: 1, budgetLeft: 0 })
  })

  it('earns no retries from calls the breaker refused: they never went out', async () => {
    const server = await serve(failing(503))
    const { app } = await appWith({ dependencies: { flaky: { baseUrl: server.url, breaker: { consecutiveFailures: 1, openMs: 60_000 }, retry: { attempts: 3, budget: { ratio: 0.1, minPerSecond: 0, windowMs: 10_000 } } } } })
    app.get('/', async (request) => await (await request.dependency('flaky').fetch('/')).text())
    expect((await app.inject('/')).statusCode).toBe(502)
    for (let i = 0; i < 39; i++) expect((await app.inject('/')).statusCode).toBe(503)
    expect(server.seen).toHaveLength(1)
    // One call went out: a tenth of a retry, none whole.
    expect(app.dependencies.stats().flaky).toMatchObject({ calls: 40, rejections: 39, budgetLeft: 0 })
  })

  it('earns no retries from calls a full bulkhead refused: they never went out', async () => {
    let answer: () => void = () => {}
    const server = await serve((_request, response) => { answer = () => { response.statusCode = 503; response.end() } })
    const { app } = await appWith({ dependencies: { flaky: { baseUrl: server.url, breaker: false, bulkhead: { maxConcurrent: 1, maxQueue: 0 }, retry: { attempts: 3, budget: { ratio: 0.1, minPerSecond: 0, windowMs: 10_000 } } } } })
    app.get('/', async (request) => await (await request.dependency('flaky').fetch('/')).text())
    const held = app.inject('/')
    await waitFor(() => server.seen.length === 1)
    for (let i = 0; i < 39; i++) expect((await app.inject('/')).statusCode).toBe(503)
    answer()
    await held
    expect(server.seen).toHaveLength(1)
    expect(app.dependencies.stats().flaky).toMatchObject({ calls: 40, rejections: 39, retries: 0, budgetLeft: 0 })
  })

  it('does not retry while the breaker is open', async () => {
    const server = await serve(failing(500))
    const { app } = await appWith({ dependencies: { flaky: { baseUrl: server.url, breaker: { consecutiveFailures: 1, openMs: 60_000 }, retry: { attempts: 3, backoff: { initialMs: 1 } } } } })
    app.get('/', async (request) => await (await request.dependency('flaky').fetch('/')).json())
    expect((await app.inject('/')).statusCode).toBe(502)
    expect(server.seen).toHaveLength(1)
    expect((await app.inject('/')).statusCode).toBe(503)
    expect(server.seen).toHaveLength(1)
  })

  it("a retry that meets the idempotency capability's key-in-use waits its Retry-After and gets the stored answer", async () => {
    let executions = 0
    // The default lease (10 s): the key-in-use answer still asks for a wait of one second, not the lease's end.
    const app = await keyedPayments(async (body) => {
      executions++
      // Slower than the attempt timeout: the first attempt times out while the charge runs on.
      await new Promise((resolve) => setTimeout(resolve, 600))
      return { charged: (body as { amount: number }).amount }
    })
    app.post('/orders', { config: { deadline: { timeoutMs: 10_000 } } }, async (request) => {
      const response = await request.dependency('payments').fetch('/charges', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"amount":42}' })
      return { status: response.status, body: await response.json() as unknown }
    })
    const response = await app.inject({ method: 'POST', url: '/orders' })
    expect(response.json()).toEqual({ status: 200, body: { charged: 42 } })
    expect(executions).toBe(1)
    // The timed-out attempt is a failure; the key-in-use answer is the charge still running, not one.
    expect(app.dependencies.stats().payments).toMatchObject({ timeouts: 1, failures: 1 })
  })

  it('a key still in use when the deadline leaves no time to wait surfaces as dependency-timeout: the outcome is unknown, not failed', async () => {
    let executions = 0
    let release: () => void = () => {}
    const app = await keyedPayments(async () => {
      executions++
      // Held until the test ends: every later attempt finds the key in use.
      await new Promise<void>((resolve) => { release = resolve })
      return { charged: true }
    })
    // Cleanups run last first: the held charge ends before its provider closes.
    cleanups.push(async () => { release() })
    app.post('/orders', { config: { deadline: { timeoutMs: 800 } } }, async (request) => {
      const response = await request.dependency('payments').fetch('/charges', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      return { status: response.status }
    })
    const response = await app.inject({ method: 'POST', url: '/orders' })
    expect(response.statusCode).toBe(504)
    expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-timeout', dependency: 'payments' })
    expect(executions).toBeGreaterThan(0)
  })

  it('without a deadline, a Retry-After longer than retry.maxDelayMs fails at once', async () => {
    const server = await serve(failing(503, { 'retry-after': '3600' }))
    const { app } = await appWith({ deadlines: false, dependencies: { search: { baseUrl: server.url, retry: { attempts: 3, backoff: { initialMs: 1 } } } } })
    app.get('/', async (request) => await (await request.dependency('search').fetch('/')).json())
    const started = Date.now()
    const response = await app.inject('/')
    expect(response.statusCode).toBe(502)
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(server.seen).toHaveLength(1)
  })

  it('retry.maxDelayMs caps the advertised wait', async () => {
    const server = await serve(failFirst(1, 503, () => ({ 'retry-after': '2' })))
    const { app } = await appWith({ deadlines: false, dependencies: { search: { baseUrl: server.url, retry: { attempts: 3, maxDelayMs: 500, backoff: { initialMs: 1 } } } } })
    app.get('/', async (request) => await (await request.dependency('search').fetch('/')).json())
    expect((await app.inject('/')).statusCode).toBe(502)
    expect(server.seen).toHaveLength(1)
  })
})
