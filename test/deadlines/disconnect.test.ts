import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { connect } from 'node:net'
import { PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { MemoryIdempotencyStore, deadlines, problemDetails } from '../../plugins/index.js'
import type { DeadlineOutcome } from '../../plugins/index.js'
import { LOG_LEVEL, createTestApp } from '../helpers/app.js'
import type { LogLine, TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'
import { parseExposition, scrape, valueOf } from '../metrics/helpers.js'

let current: TestApp | undefined
const others: FastifyInstance[] = []
afterEach(async () => {
  await current?.app.close()
  current = undefined
  await Promise.all(others.splice(0).map(async (app) => { await app.close() }))
})

async function setup (): Promise<TestApp> {
  current = createTestApp()
  await current.app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 5000 } })
  return current
}

/** Opens a raw connection, sends the bytes, and returns the socket and what it receives. */
function rawClient (port: number, bytes: string): { received: () => string, destroy: () => void } {
  const socket = connect(port, '127.0.0.1')
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
  socket.on('error', () => {})
  socket.write(bytes)
  return { received: () => received, destroy: () => socket.destroy() }
}

interface Observation { reason: unknown, outcome: DeadlineOutcome }

describe('client disconnect', () => {
  it('aborts the signal with a client-gone reason and sends nothing', async () => {
    const { app, logs } = await setup()
    const started = deferred()
    const observed = deferred<Observation>()
    const sentAfterwards = deferred<boolean>()
    app.get('/slow', async (request, reply) => {
      request.deadline.signal.addEventListener('abort', () => {
        observed.resolve({ reason: request.deadline.signal.reason, outcome: request.deadline.outcome })
        setImmediate(() => sentAfterwards.resolve(reply.raw.headersSent))
      })
      started.resolve()
      await new Promise(() => {})
    })
    const port = await listen(app)
    const client = rawClient(port, 'GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await started.promise
    client.destroy()
    const { reason, outcome } = await observed.promise
    expect(reason).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED', statusCode: 499 })
    expect(outcome).toBe('client-closed')
    expect(await sentAfterwards.promise).toBe(false)
    expect(client.received()).toBe('')
    expect(logs.some((line) => line.msg === 'client closed the connection before the response; its work was aborted')).toBe(true)
  })

  it('a POST whose body has been read keeps its signal until the client really leaves', async () => {
    const { app } = await setup()
    const states: boolean[] = []
    app.post('/orders', async (request) => {
      states.push(request.deadline.signal.aborted)
      await new Promise((resolve) => setTimeout(resolve, 100))
      states.push(request.deadline.signal.aborted)
      return { received: request.body }
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ productId: 1, note: 'x'.repeat(50_000) }),
    })
    expect(res.status).toBe(200)
    expect(states).toEqual([false, false])
  })

  it('a POST whose client leaves after sending the body is aborted as client-gone', async () => {
    const { app } = await setup()
    const bodyRead = deferred()
    const observed = deferred<unknown>()
    app.post('/orders', async (request) => {
      request.deadline.signal.addEventListener('abort', () => observed.resolve(request.deadline.signal.reason))
      bodyRead.resolve()
      await new Promise(() => {})
    })
    const port = await listen(app)
    const body = JSON.stringify({ productId: 1 })
    const client = rawClient(port, `POST /orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    await bodyRead.promise
    client.destroy()
    expect(await observed.promise).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED' })
  })

  it('a response that completes normally aborts nothing', async () => {
    const { app } = await setup()
    const signals: AbortSignal[] = []
    app.get('/fast', async (request) => {
      signals.push(request.deadline.signal)
      return { ok: true }
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/fast`)
    await res.text()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(signals[0]?.aborted).toBe(false)
  })
})

/** Sends a POST's head and the start of its JSON body, as a client that gives up during the upload. */
function partialPost (port: number, path: string): { received: () => string, destroy: () => void } {
  return rawClient(port, `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nIdempotency-Key: k1\r\nContent-Length: 64\r\n\r\n{"a":`)
}

/** Lets the server read part of the body, drops the connection, and waits until the server has seen it go. */
async function leaveMidBody (port: number, path: string, arrived: () => FastifyRequest | undefined): Promise<FastifyRequest> {
  const client = partialPost(port, path)
  await waitFor(() => arrived() !== undefined)
  // The body's first bytes reach the parser, which waits for the rest.
  await new Promise((resolve) => setTimeout(resolve, 20))
  const request = arrived() as FastifyRequest
  client.destroy()
  await waitFor(() => request.deadline.outcome === 'client-closed')
  // Fastify's body parser hears of the abort on the next tick.
  await new Promise((resolve) => setTimeout(resolve, 20))
  expect(client.received()).toBe('')
  return request
}

const loud = (logs: readonly LogLine[]): string[] => logs.filter((line) => line.level >= LOG_LEVEL.warn).map((line) => line.msg)

describe('a client that leaves while sending its body', () => {
  const ORDERS = { name: 'orders', availability: 0.99 }

  it('with the umbrella: logs nothing above info, counts the request once, runs no handler and holds no key', async () => {
    current = createTestApp()
    const { app, logs } = current
    await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true }, errorBudget: { objectives: [ORDERS], defaultObjective: 'orders' } })
    const arrived = new Map<string, FastifyRequest>()
    app.addHook('onRequest', async (request) => { arrived.set(request.url, request) })
    let runs = 0
    app.post('/plain', async (request) => { runs++; return { ok: request.body } })
    app.post('/idem', { config: { idempotency: { required: true } } }, async (request) => { runs++; return { ok: request.body } })
    const port = await listen(app)

    for (const path of ['/plain', '/idem']) {
      const request = await leaveMidBody(port, path, () => arrived.get(path))
      expect(request.deadline.signal.reason).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED' })
    }
    expect(loud(logs)).toEqual([])
    expect(logs.filter((line) => line.msg === 'client closed the connection before the response; its work was aborted')).toHaveLength(2)
    expect(runs).toBe(0)

    const samples = parseExposition(await app.errorBudget.registry?.metrics() ?? '')
    for (const route of ['POST /plain', 'POST /idem']) {
      expect(valueOf(samples, 'slo_uncounted_events_total', { route, reason: 'client-closed' })).toBe(1)
      expect(valueOf(samples, 'slo_uncounted_events_total', { route, reason: 'client-error' })).toBe(0)
      expect(valueOf(samples, 'deadline_requests_total', { route, outcome: 'client-closed' })).toBe(1)
    }

    // The key was never claimed: the retry runs the handler, once.
    const retry = await fetch(`http://127.0.0.1:${port}/idem`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' }, body: '{"a":1}' })
    expect(retry.status).toBe(200)
    expect(await retry.json()).toEqual({ ok: { a: 1 } })
    expect(runs).toBe(1)
    expect(loud(logs)).toEqual([])
  })

  it('with only problem details and deadlines: logs nothing above info and aborts the signal as client-gone', async () => {
    current = createTestApp()
    const { app, logs } = current
    await app.register(problemDetails)
    await app.register(deadlines)
    let arrived: FastifyRequest | undefined
    app.addHook('onRequest', async (request) => { arrived = request })
    let runs = 0
    app.post('/plain', async (request) => { runs++; return { ok: request.body } })
    const port = await listen(app)
    const request = await leaveMidBody(port, '/plain', () => arrived)
    expect(request.deadline.signal.reason).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED', statusCode: 499 })
    expect(loud(logs)).toEqual([])
    expect(runs).toBe(0)
  })

  it('with an app without a logger: nothing throws, and the next request is served', async () => {
    const app = Fastify()
    others.push(app)
    await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true } })
    let arrived: FastifyRequest | undefined
    app.addHook('onRequest', async (request) => { arrived ??= request })
    app.post('/idem', { config: { idempotency: { required: true } } }, async (request) => ({ ok: request.body }))
    const port = await listen(app)
    await leaveMidBody(port, '/idem', () => arrived)
    const next = await fetch(`http://127.0.0.1:${port}/idem`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' }, body: '{"a":1}' })
    expect(next.status).toBe(200)
  })
})

describe('a handler that answers with reply.send() after its client left', () => {
  it('has its answer dropped without a warning, and the request counted once', async () => {
    current = createTestApp()
    const { app, logs } = current
    await app.register(resilience, { loadShedding: false, idempotency: false, errorBudget: { objectives: [{ name: 'orders', availability: 0.99 }], defaultObjective: 'orders' } })
    const started = deferred<FastifyRequest>()
    const sent = deferred()
    app.get('/callback', (request, reply) => {
      started.resolve(request)
      request.deadline.signal.addEventListener('abort', () => {
        setImmediate(() => { reply.send({ late: true }); sent.resolve() })
      })
    })
    const port = await listen(app)
    const client = rawClient(port, 'GET /callback HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await started.promise
    client.destroy()
    await sent.promise
    expect(client.received()).toBe('')
    expect(loud(logs)).toEqual([])
    const samples = parseExposition(await app.errorBudget.registry?.metrics() ?? '')
    expect(valueOf(samples, 'slo_uncounted_events_total', { route: 'GET /callback', reason: 'client-closed' })).toBe(1)
    expect(valueOf(samples, 'slo_events_total', { route: 'GET /callback', result: 'good' })).toBe(0)
  })

  it('has a stream it sends destroyed, not left open', async () => {
    current = createTestApp()
    const { app, logs } = current
    await app.register(resilience, { loadShedding: false, idempotency: false })
    const started = deferred()
    const body = new PassThrough()
    const sent = deferred()
    app.get('/file', (request, reply) => {
      started.resolve()
      request.deadline.signal.addEventListener('abort', () => {
        setImmediate(() => { reply.type('text/plain').send(body); sent.resolve() })
      })
    })
    const port = await listen(app)
    const client = rawClient(port, 'GET /file HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await started.promise
    client.destroy()
    await sent.promise
    expect(body.destroyed).toBe(true)
    expect(loud(logs)).toEqual([])
  })
})

/** What a signal had become by the time `ms` passed: its reason once aborted, 'not aborted' otherwise. */
async function abortedWithin (signal: AbortSignal, ms: number): Promise<unknown> {
  if (signal.aborted) return signal.reason
  const gaveUp = new AbortController()
  const aborted = new Promise((resolve) => { signal.addEventListener('abort', () => resolve(signal.reason), { once: true, signal: gaveUp.signal }) })
  try {
    return await Promise.race([aborted, sleep(ms, 'not aborted')])
  } finally {
    gaveUp.abort()
  }
}

/** Sends a request with fetch (undici) and aborts it once the handler has started, as a client that gives up does. */
async function fetchAndLeave (url: string, init: RequestInit, started: Promise<unknown>): Promise<void> {
  const controller = new AbortController()
  const pending = fetch(url, { ...init, signal: controller.signal }).catch((error: unknown) => error)
  await started
  controller.abort()
  expect(await pending).toBeInstanceOf(Error)
}

describe("Fastify's own request.signal with deadlines on", () => {
  // With handlerTimeout Fastify creates the signal before the handler runs;
  // without it, on first use. Both must hear the client leave.
  for (const [variant, routeOptions] of [['', {}], [' (route with handlerTimeout)', { handlerTimeout: 60_000 }]] as const) {
    it(`aborts when the client leaves, as without the plugin; the request is counted client-closed once and the handler's result is not sent${variant}`, async () => {
      current = createTestApp()
      const { app, logs } = current
      await app.register(resilience, { loadShedding: false, idempotency: false, metrics: { path: '/metrics' }, deadlines: { defaultTimeoutMs: 5000 } })
      const sent: string[] = []
      app.addHook('onSend', async (request, _reply, payload) => { sent.push(request.url); return payload })
      const started = deferred<AbortSignal>()
      const cancelled = deferred<unknown>()
      let outcome: DeadlineOutcome | undefined
      app.get('/leave', routeOptions, async (request) => {
        started.resolve(request.signal)
        try {
          // Work cancelled the way Fastify documents it: through request.signal.
          await sleep(10_000, undefined, { signal: request.signal })
        } catch (error) {
          outcome = request.deadline.outcome
          cancelled.resolve(error)
        }
        return { late: true }
      })
      const port = await listen(app)
      await fetchAndLeave(`http://127.0.0.1:${port}/leave`, {}, started.promise)
      const signal = await started.promise
      expect(await abortedWithin(signal, 1000)).toMatchObject({ name: 'AbortError' })
      expect(await cancelled.promise).toMatchObject({ name: 'AbortError' })
      expect(outcome).toBe('client-closed')
      // The late { late: true } is dropped: nothing of /leave reaches onSend.
      await new Promise((resolve) => setImmediate(resolve))
      expect(sent).not.toContain('/leave')
      const { samples } = await scrape(port)
      expect(valueOf(samples, 'deadline_requests_total', { route: 'GET /leave', outcome: 'client-closed' })).toBe(1)
      expect(logs.filter((line) => line.msg === 'client closed the connection before the response; its work was aborted')).toHaveLength(1)
      expect(logs.filter((line) => line.level >= LOG_LEVEL.warn)).toEqual([])
    })
  }

  it('with an idempotency key held, aborts when the client leaves while the handler runs on and its answer is stored for the retry', async () => {
    current = createTestApp()
    const { app } = current
    await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, store: new MemoryIdempotencyStore() }, deadlines: { defaultTimeoutMs: 5000 } })
    const started = deferred<{ fastify: AbortSignal, deadline: AbortSignal }>()
    const finish = deferred()
    let runs = 0
    app.post('/orders', { config: { idempotency: {} } }, async (request) => {
      runs++
      started.resolve({ fastify: request.signal, deadline: request.deadline.signal })
      await finish.promise
      return { order: 1 }
    })
    const port = await listen(app)
    const url = `http://127.0.0.1:${port}/orders`
    // No body: a POST whose body has been read has Fastify's signal aborted
    // already (the request stream closes), which is not what this is about.
    const init = { method: 'POST', headers: { 'idempotency-key': 'signal-1' } }
    const signals = started.promise
    const leaving = fetchAndLeave(url, init, signals)
    const { fastify, deadline } = await signals
    expect(fastify.aborted).toBe(false)
    await leaving
    expect(await abortedWithin(fastify, 1000)).toMatchObject({ name: 'AbortError' })
    // The plugin's signal stays quiet: the handler is meant to run on.
    expect(deadline.aborted).toBe(false)

    finish.resolve()
    // A retry gets 409 until the handler's answer is stored.
    let retry = await fetch(url, init)
    for (let attempt = 0; retry.status === 409 && attempt < 300; attempt++) {
      await sleep(10)
      retry = await fetch(url, init)
    }
    expect(retry.status).toBe(200)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(await retry.json()).toEqual({ order: 1 })
    expect(runs).toBe(1)
  })

  it("does not abort at the deadline's 504; request.deadline.signal does", async () => {
    current = createTestApp()
    const { app } = current
    await app.register(resilience, { loadShedding: false, idempotency: false })
    const atDeadline = deferred<{ fastify: boolean, deadline: unknown }>()
    app.get('/slow', { config: { deadline: { timeoutMs: 100 } } }, async (request) => {
      const fastify = request.signal
      await new Promise((resolve) => request.deadline.signal.addEventListener('abort', resolve, { once: true }))
      atDeadline.resolve({ fastify: fastify.aborted, deadline: request.deadline.signal.reason })
      return 'late'
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/slow`)
    expect(res.status).toBe(504)
    await res.arrayBuffer()
    expect(await atDeadline.promise).toMatchObject({ fastify: false, deadline: { code: 'FRS_ERR_DEADLINE_EXCEEDED' } })
  })
})
