import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import resilience, { CHANNEL_NAMES } from '../../plugins/index.js'
import type { DeadlineExpiredMessage, FaultInjectedMessage, ReplayedMessage, ShedMessage } from '../../plugins/index.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'

/*
 * Every decision is published on its diagnostics_channel, with the
 * request, the route template and what was decided, for a subscriber
 * that knows nothing of the library's internals.
 */

let app: FastifyInstance
let port: number
const gate = deferred()
let running = 0
const received: Array<{ name: string, message: unknown }> = []
const listeners = new Map<string, (message: unknown, name: string | symbol) => void>()

beforeAll(async () => {
  app = Fastify()
  await app.register(resilience, {
    loadShedding: { limit: 1, maxQueue: 0, loopLag: false, pressure: false },
    idempotency: { unscoped: true },
    chaos: { enabled: true },
  })
  app.get('/block', async () => { running++; await gate.promise; return { ok: true } })
  app.get('/slow', { config: { deadline: { timeoutMs: 50 } } }, async (request) => {
    await new Promise((resolve) => request.deadline.signal.addEventListener('abort', resolve, { once: true }))
    return 'late'
  })
  app.post('/pay', { config: { idempotency: {} } }, async () => ({ paid: true }))
  app.get('/faulty', { config: { chaos: { faults: [{ type: 'error', rate: 1, status: 500 }] } } }, async () => ({ ok: true }))
  port = await listen(app)
  for (const name of Object.values(CHANNEL_NAMES)) {
    const listener = (message: unknown): void => { received.push({ name, message }) }
    listeners.set(name, listener)
    subscribe(name, listener)
  }
})

afterEach(() => { received.length = 0 })

afterAll(async () => {
  for (const [name, listener] of listeners) unsubscribe(name, listener)
  gate.resolve()
  await app?.close()
})

async function call (path: string, init?: RequestInit): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, init)
  await response.arrayBuffer()
  return response.status
}

function only<T> (name: string): T & { request: FastifyRequest } {
  const messages = received.filter((entry) => entry.name === name)
  expect(messages).toHaveLength(1)
  return messages[0]?.message as T & { request: FastifyRequest }
}

describe('diagnostics_channel events', () => {
  it('publishes a shed with its reason, priority, route and Retry-After', async () => {
    const held = call('/block')
    await waitFor(() => running === 1)
    expect(await call('/faulty')).toBe(503)
    const message = only<ShedMessage>(CHANNEL_NAMES.shed)
    expect(message).toMatchObject({ route: 'GET /faulty', reason: 'concurrency', priority: 'normal' })
    expect(message.retryAfterSeconds).toBeGreaterThanOrEqual(1)
    expect(message.request.url).toBe('/faulty')
    gate.resolve()
    expect(await held).toBe(200)
  })

  it('publishes an expired deadline with its route and timeout', async () => {
    expect(await call('/slow')).toBe(504)
    const message = only<DeadlineExpiredMessage>(CHANNEL_NAMES.deadlineExpired)
    expect(message).toMatchObject({ route: 'GET /slow', timeoutMs: 50 })
    expect(message.request.url).toBe('/slow')
  })

  it('publishes a replay with the replayed status, and nothing for the first execution', async () => {
    const init = { method: 'POST', headers: { 'idempotency-key': '"once"' } }
    expect(await call('/pay', init)).toBe(200)
    expect(received.filter((entry) => entry.name === CHANNEL_NAMES.replayed)).toEqual([])
    expect(await call('/pay', init)).toBe(200)
    const message = only<ReplayedMessage>(CHANNEL_NAMES.replayed)
    expect(message).toMatchObject({ route: 'POST /pay', statusCode: 200 })
    expect(message.request.headers['idempotency-key']).toBe('"once"')
  })

  it('publishes an injected fault with its type and source', async () => {
    expect(await call('/faulty')).toBe(500)
    const message = only<FaultInjectedMessage>(CHANNEL_NAMES.faultInjected)
    expect(message).toMatchObject({ route: 'GET /faulty', type: 'error', source: 'route' })
    expect(message.request.url).toBe('/faulty')
  })
})
