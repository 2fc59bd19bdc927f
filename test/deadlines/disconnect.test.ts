import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { MemoryIdempotencyStore } from '../../plugins/index.js'
import type { DeadlineOutcome } from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { scrape, valueOf } from '../metrics/helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

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
