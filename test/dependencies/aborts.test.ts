import got from 'got'
import type { ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { listen } from '../helpers/listen.js'
import { rawGet } from '../helpers/raw-http.js'
import { waitFor } from '../helpers/wait-for.js'
import { closedAfterEach, dependencyApp, failing, hanging, healthy, slow } from './helpers.js'

const { serve, appWith } = closedAfterEach()

describe('timeouts and abandoned calls', () => {
  it('an attempt that outlives timeoutMs is a 504 dependency-timeout and counts as a failure', async () => {
    const server = await serve(hanging)
    // Long enough for the call to reach the hanging server on a busy
    // machine: cut short before it is sent, there is nothing to abort there.
    const { app } = await appWith({ dependencies: { ledger: { baseUrl: server.url, timeoutMs: 500 } } })
    app.get('/', async (request) => await (await request.dependency('ledger').fetch('/')).json())
    const response = await app.inject('/')
    expect(response.statusCode).toBe(504)
    expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-timeout', dependency: 'ledger', timeoutMs: 500 })
    expect(app.dependencies.stats().ledger).toMatchObject({ timeouts: 1, failures: 1, windowCalls: 1, failureRate: 1 })
    await waitFor(() => server.seen[0]?.aborted === true)
  })

  it("a call's signal aborts at timeoutMs with an error a client can read, a TimeoutError", async () => {
    const { app } = await appWith({ dependencies: { ledger: { timeoutMs: 100, breaker: false } } })
    let reason: unknown
    app.get('/', async (request) => await request.dependency('ledger').call(async (signal) => {
      await new Promise((resolve) => { signal.addEventListener('abort', resolve) })
      reason = signal.reason
      throw new Error(`ledger call failed: ${String(signal.reason)}`)
    }))
    const response = await app.inject('/')
    expect(response.statusCode).toBe(504)
    expect(reason).toBeInstanceOf(Error)
    expect((reason as Error).name).toBe('TimeoutError')
  })

  it("a call cut short by the request's own deadline is not counted against the dependency", async () => {
    const server = await serve(hanging)
    const { app } = await appWith({ dependencies: { ledger: { baseUrl: server.url, timeoutMs: 10_000, breaker: { consecutiveFailures: 1 } } } })
    app.get('/', { config: { deadline: { timeoutMs: 200 } } }, async (request) => await (await request.dependency('ledger').fetch('/')).json())
    for (let i = 0; i < 3; i++) {
      const response = await app.inject('/')
      expect(response.statusCode).toBe(504)
      expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:deadline-exceeded' })
    }
    expect(app.dependencies.stats().ledger).toMatchObject({ state: 'closed', failures: 0, timeouts: 0, windowCalls: 0 })
    expect(server.seen).toHaveLength(3)
  })

  it('a call abandoned because the client went away is aborted downstream and not counted', async () => {
    const server = await serve(hanging)
    const { app } = await appWith({ dependencies: { ledger: { baseUrl: server.url, timeoutMs: 10_000, breaker: { consecutiveFailures: 1 } } } })
    app.get('/', async (request) => await (await request.dependency('ledger').fetch('/')).json())
    const port = await listen(app)
    const socket = rawGet(port, '/')
    await waitFor(() => server.seen.length === 1)
    socket.destroy()
    await waitFor(() => server.seen[0]?.aborted === true)
    await waitFor(() => app.dependencies.stats().ledger?.inFlight === 0)
    expect(app.dependencies.stats().ledger).toMatchObject({ state: 'closed', failures: 0, windowCalls: 0 })
  })

  it('a retry whose client leaves during the wait before it is neither sent, counted nor taken from the budget', async () => {
    const server = await serve(failing(503, { 'retry-after': '2' }))
    const { app } = await appWith({ dependencies: { ledger: { baseUrl: server.url, breaker: false, retry: { attempts: 3 } } } })
    let ended = 0
    app.get('/', async (request) => {
      try {
        return await (await request.dependency('ledger').fetch('/')).json()
      } finally {
        ended++
      }
    })
    const port = await listen(app)
    const budget = app.dependencies.stats().ledger?.budgetLeft
    for (let client = 0; client < 3; client++) {
      const socket = rawGet(port, '/')
      await waitFor(() => server.seen.length === client + 1)
      socket.destroy()
      await waitFor(() => ended === client + 1)
    }
    expect(server.seen).toHaveLength(3)
    expect(app.dependencies.stats().ledger).toMatchObject({ attempts: 3, retries: 0, budgetLeft: budget })
  })

  it("a call given up on its own signal (fetch's init.signal) is passed on as fetch would, and neither counted, retried nor answered by the fallback", async () => {
    const server = await serve(slow(2000))
    const { app } = await appWith({
      dependencies: { ledger: { baseUrl: server.url, timeoutMs: 10_000, breaker: { consecutiveFailures: 1 }, retry: { attempts: 3 }, fallback: { value: { stale: true } } } },
    })
    // The caller gives up once the dependency has the request, as
    // AbortSignal.timeout would; a timer of its own could fire before the
    // request is sent on a busy machine, leaving nothing to abort downstream.
    let giveUp = new AbortController()
    app.get('/', async (request, reply) => {
      try {
        return await (await request.dependency('ledger').fetch('/', { signal: giveUp.signal })).json()
      } catch (error) {
        return await reply.code(499).send({ name: (error as Error).name, degraded: request.degraded })
      }
    })
    for (let i = 0; i < 2; i++) {
      giveUp = new AbortController()
      const pending = app.inject('/')
      await waitFor(() => server.seen.length === i + 1)
      giveUp.abort(new DOMException('The operation timed out.', 'TimeoutError'))
      const response = await pending
      expect(response.json()).toEqual({ name: 'TimeoutError', degraded: [] })
    }
    expect(server.seen).toHaveLength(2)
    await waitFor(() => server.seen.every((seen) => seen.aborted))
    expect(app.dependencies.stats().ledger).toMatchObject({ state: 'closed', failures: 0, retries: 0, fallbacks: 0, windowCalls: 0 })
  })

  it('a follower of a coalesced call that gives up on its own signal leaves alone; the shared call goes on for the others', async () => {
    const server = await serve(slow(1500))
    const { app } = await appWith({ dependencies: { catalog: { baseUrl: server.url, timeoutMs: 5000, coalesce: true } } })
    app.get('/patient', async (request) => await (await request.dependency('catalog').fetch('/items')).json())
    app.get('/hasty', async (request, reply) => {
      try {
        return await (await request.dependency('catalog').fetch('/items', { signal: AbortSignal.timeout(50) })).json()
      } catch (error) {
        return await reply.code(499).send({ name: (error as Error).name })
      }
    })
    const patient = app.inject('/patient')
    await waitFor(() => server.seen.length === 1)
    const hasty = await app.inject('/hasty')
    expect(hasty.json()).toEqual({ name: 'TimeoutError' })
    expect((await patient).json()).toEqual({ ok: true })
    expect(server.seen).toHaveLength(1)
    expect(server.seen[0]?.aborted).toBe(false)
    expect(app.dependencies.stats().catalog).toMatchObject({ failures: 0, coalesced: 1 })
  })

  it('a full bulkhead refuses at once with dependency-unavailable, without calling the dependency', async () => {
    const server = await serve(slow(400))
    const { app } = await appWith({ dependencies: { reports: { baseUrl: server.url, bulkhead: { maxConcurrent: 1, maxQueue: 0 } } } })
    app.get('/', async (request) => await (await request.dependency('reports').fetch('/')).json())
    const first = app.inject('/')
    await waitFor(() => server.seen.length === 1)
    const refused = await app.inject('/')
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['retry-after']).toBe('1')
    expect(refused.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-unavailable', dependency: 'reports', reason: 'bulkhead-full' })
    expect((await first).statusCode).toBe(200)
    expect(server.seen).toHaveLength(1)
    expect(app.dependencies.stats().reports).toMatchObject({ rejections: 1, state: 'closed', failures: 0 })
  })

  it("a call whose client ignores the signal holds its bulkhead slot after its timeout, until the client's request ends", async () => {
    const held: ServerResponse[] = []
    const server = await serve((_request, response) => { held.push(response) })
    const { app } = await appWith({ dependencies: { reports: { timeoutMs: 100, breaker: false, bulkhead: { maxConcurrent: 1, maxQueue: 0 } } } })
    // The signal is not passed on: got's request runs on after the attempt is given up.
    app.get('/', async (request) => await request.dependency('reports').call(async () => await got(`${server.url}/report`, { retry: { limit: 0 } }).text()))
    expect((await app.inject('/')).statusCode).toBe(504)
    const refused = await app.inject('/')
    expect(refused.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-unavailable', reason: 'bulkhead-full' })
    expect(server.seen).toHaveLength(1)
    for (const response of held.splice(0)) response.end('late')
    await waitFor(() => app.dependencies.stats().reports?.inFlight === 0)
    const later = app.inject('/')
    await waitFor(() => held.length === 1)
    held[0]?.end('on time')
    expect((await later).body).toBe('on time')
    expect(server.seen).toHaveLength(2)
  })

  it('a queued call waits for a slot and runs when one frees', async () => {
    const server = await serve(slow(100))
    const { app } = await appWith({ dependencies: { reports: { baseUrl: server.url, bulkhead: { maxConcurrent: 1, maxQueue: 5 } } } })
    app.get('/', async (request) => await (await request.dependency('reports').fetch('/')).json())
    const answers = await Promise.all([app.inject('/'), app.inject('/'), app.inject('/')])
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 200])
    expect(server.seen).toHaveLength(3)
  })
})

describe('many calls in one request', () => {
  it('a handler may call a dependency many times without piling listeners on its deadline signal', async () => {
    const server = await serve(healthy({ ok: true }))
    const { app } = await appWith({ dependencies: { catalog: { baseUrl: server.url } } })
    app.get('/', async (request) => {
      for (let i = 0; i < 20; i++) await (await request.dependency('catalog').fetch(`/items/${i}`)).json()
      return { calls: 20 }
    })
    const warnings: string[] = []
    const onWarning = (warning: Error): void => { warnings.push(warning.name) }
    process.on('warning', onWarning)
    try {
      expect((await app.inject('/')).json()).toEqual({ calls: 20 })
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning')
  })

  it('a streamed answer read after the call returns is still cut at the deadline', async () => {
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' })
      response.write('first chunk')
      // The rest never comes.
    })
    const { app } = await appWith({ dependencies: { feed: { baseUrl: server.url, timeoutMs: 10_000 } } })
    app.get('/', { config: { deadline: { timeoutMs: 300 } } }, async (request) => {
      const response = await request.dependency('feed').fetch('/stream')
      return await response.text()
    })
    const answer = await app.inject('/')
    expect(answer.statusCode).toBe(504)
    expect(answer.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:deadline-exceeded' })
    await waitFor(() => server.seen[0]?.aborted === true)
  })
})

describe('names', () => {
  it('an unknown dependency name fails at the call with a clear error', async () => {
    const { app } = await appWith({ dependencies: { payments: {} } })
    app.get('/', async (request) => {
      try {
        request.dependency('paymnets')
        return { thrown: false }
      } catch (error) {
        return { code: (error as { code: string }).code, message: (error as Error).message }
      }
    })
    expect((await app.inject('/')).json()).toEqual({
      code: 'FRS_ERR_DEPENDENCY_UNKNOWN',
      message: "fastify-resilience: unknown dependency 'paymnets'; the declared dependencies are: payments",
    })
  })

  it('a route that declares an unknown dependency fails at startup, naming the route', async () => {
    const { app } = await appWith({ dependencies: { payments: {} } })
    expect(() => app.get('/orders', { config: { dependencies: ['paymnets'] } }, async () => ({}))).toThrow(
      "fastify-resilience: route GET /orders: config.dependencies expects names of declared dependencies (payments), instead got a 'string' (\"paymnets\")"
    )
  })

  it('registration refuses invalid options, naming the option', async () => {
    await expect(dependencyApp({ dependencies: { payments: { timeoutMs: -5 } } })).rejects.toThrow("option 'dependencies.payments.timeoutMs'")
  })
})
