import { Readable } from 'node:stream'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, inject, it, vi } from 'vitest'
import resilience, { MemoryIdempotencyStore, RedisIdempotencyStore, dependencies } from '../../plugins/index.js'
import type { ClaimOutcome, IdempotencyStore } from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'
import { joinedStoreKey } from '../../src/idempotency/scoped-key.js'
import { inProcessFingerprint } from '../../src/idempotency/fingerprint.js'
import { bothStores } from './both-stores.js'

const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
afterAll(async () => { await redis.quit() })

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const stores = bothStores(redis, 'plugin')

interface ShopOptions {
  store: IdempotencyStore
  handlerDelayMs?: number
  /** The first charge to reach the handler waits for this before charging. */
  holdFirst?: Promise<void>
  /** scope() resolves a turn later instead of returning the account at once. */
  asyncScope?: boolean
}

async function shop ({ store, handlerDelayMs = 0, holdFirst, asyncScope = false }: ShopOptions): Promise<TestApp & { charges: ReturnType<typeof vi.fn>, entered: ReturnType<typeof vi.fn> }> {
  current = createTestApp()
  const { app } = current
  const charges = vi.fn()
  const entered = vi.fn()
  await app.register(resilience, {
    // Bursts of duplicates test the keys; a busy machine must not shed them (shedding has its own tests).
    loadShedding: false,
    idempotency: {
      store,
      scope: asyncScope
        ? async (request) => await Promise.resolve(String(request.headers['x-account'] ?? 'anonymous'))
        : (request) => String(request.headers['x-account'] ?? 'anonymous'),
    },
  })
  app.post<{ Body: { amount: number } }>('/charges', { config: { idempotency: { required: true } } }, async (request, reply) => {
    entered()
    if (holdFirst !== undefined && entered.mock.calls.length === 1) await holdFirst
    if (handlerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, handlerDelayMs))
    charges(request.body)
    if (request.body.amount < 0) throw Object.assign(new Error('amount must be positive'), { statusCode: 400 })
    if (request.body.amount === 500) throw new Error('processor crashed')
    if (request.body.amount === 429) return reply.code(429).header('retry-after', '1').send({ detail: 'rate limited' })
    const id = `ch_${charges.mock.calls.length}`
    return reply.code(201)
      .header('location', `/charges/${id}`)
      .header('etag', `"${id}"`)
      .header('set-cookie', 'session=secret')
      .header('x-internal', 'not replayed')
      .send({ id, amount: request.body.amount })
  })
  app.post('/receipt', { config: { idempotency: {} } }, async (_request, reply) => {
    charges()
    return reply.type('application/octet-stream').send(Buffer.from([0, 255, 1, 254, 10, 13]))
  })
  return { ...current, charges, entered }
}

function charge (app: TestApp['app'], key: string | undefined, amount = 100, account = 'acct_1') {
  return app.inject({
    method: 'POST',
    url: '/charges',
    headers: { ...(key === undefined ? {} : { 'idempotency-key': key }), 'x-account': account },
    payload: { amount },
  })
}

describe.each(stores)('idempotency plugin with the %s store', (_name, makeStore) => {
  it('a missing key on a route that requires one is a 400 problem, and the handler does not run', async () => {
    const { app, charges } = await shop({ store: makeStore() })
    const res = await charge(app, undefined)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:idempotency-key-missing', status: 400 })
    expect(charges).not.toHaveBeenCalled()
  })

  it.each(['"unterminated', 'two words', 'a, b', 'k'.repeat(256), '""'])('the malformed key %j is a 400 problem', async (key) => {
    const { app, charges } = await shop({ store: makeStore() })
    const res = await charge(app, key)
    expect(res.statusCode).toBe(400)
    expect(res.json().type).toBe('urn:fastify-resilience:problem:idempotency-key-invalid')
    expect(charges).not.toHaveBeenCalled()
  })

  it('a retry replays status, allow-listed headers and body byte for byte, marked as replayed', async () => {
    const { app, charges } = await shop({ store: makeStore() })
    const first = await charge(app, '"order-1"')
    const retry = await charge(app, '"order-1"')
    expect(charges).toHaveBeenCalledTimes(1)
    expect(first.statusCode).toBe(201)
    expect(retry.statusCode).toBe(201)
    expect(retry.rawPayload.equals(first.rawPayload)).toBe(true)
    expect(retry.headers['content-type']).toBe(first.headers['content-type'])
    expect(retry.headers.location).toBe('/charges/ch_1')
    expect(retry.headers.etag).toBe('"ch_1"')
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(first.headers['idempotent-replayed']).toBeUndefined()
    expect(retry.headers['set-cookie']).toBeUndefined()
    expect(retry.headers['x-internal']).toBeUndefined()
  })

  it('a bare key and its quoted form are the same key', async () => {
    const { app, charges } = await shop({ store: makeStore() })
    await charge(app, 'order-2')
    expect((await charge(app, '"order-2"')).headers['idempotent-replayed']).toBe('true')
    expect(charges).toHaveBeenCalledTimes(1)
  })

  it('a binary body is replayed byte for byte', async () => {
    const { app, charges } = await shop({ store: makeStore() })
    const request = { method: 'POST' as const, url: '/receipt', headers: { 'idempotency-key': 'r1', 'content-type': 'application/json' }, payload: '{}' }
    const first = await app.inject(request)
    const retry = await app.inject(request)
    expect(charges).toHaveBeenCalledTimes(1)
    expect([...retry.rawPayload]).toEqual([0, 255, 1, 254, 10, 13])
    expect(retry.rawPayload.equals(first.rawPayload)).toBe(true)
    expect(retry.headers['content-type']).toBe('application/octet-stream')
  })

  it('a text body beyond ASCII is replayed byte for byte, with the same length', async () => {
    current = createTestApp()
    const { app } = current
    // A lone surrogate too: it leaves as the three bytes of U+FFFD, and so must its replay.
    const handler = vi.fn(async () => 'café ☕ 日本 \ud800')
    await app.register(resilience, { loadShedding: false, idempotency: { store: makeStore(), unscoped: true } })
    app.post('/note', { config: { idempotency: {} } }, handler)
    const request = { method: 'POST' as const, url: '/note', headers: { 'idempotency-key': 'n1' }, payload: { text: 'x' } }
    const first = await app.inject(request)
    const retry = await app.inject(request)
    expect(handler).toHaveBeenCalledTimes(1)
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.rawPayload.equals(Buffer.from('café ☕ 日本 \ud800'))).toBe(true)
    expect(retry.rawPayload.equals(first.rawPayload)).toBe(true)
    expect(retry.headers['content-length']).toBe(first.headers['content-length'])
    expect(retry.headers['content-type']).toBe('text/plain; charset=utf-8')
  })

  it('text whose content type is not replayed goes out as the bytes first sent, typed application/octet-stream', async () => {
    current = createTestApp()
    const { app } = current
    await app.register(resilience, { loadShedding: false, idempotency: { store: makeStore(), unscoped: true, replayHeaders: ['etag'] } })
    app.post('/note', { config: { idempotency: {} } }, async () => 'plain words')
    const request = { method: 'POST' as const, url: '/note', headers: { 'idempotency-key': 'n2' }, payload: { text: 'x' } }
    expect((await app.inject(request)).headers['content-type']).toBe('text/plain; charset=utf-8')
    const retry = await app.inject(request)
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.body).toBe('plain words')
    expect(retry.headers['content-type']).toBe('application/octet-stream')
  })

  it('the same key with a different body is a 422 problem', async () => {
    const { app, charges } = await shop({ store: makeStore() })
    await charge(app, 'order-3', 100)
    const res = await charge(app, 'order-3', 999)
    expect(res.statusCode).toBe(422)
    expect(res.json().type).toBe('urn:fastify-resilience:problem:idempotency-key-reused')
    expect(charges).toHaveBeenCalledTimes(1)
  })

  it.each([
    ['{"a":null}', '{"a":1e400}'],
    ['{"a":1e400}', '{"a":-1e400}'],
    ['{"a":0}', '{"a":-0}'],
  ])('the same key with the body %s, then %s, is a 422 problem: JSON.parse gives them different numbers', async (body, other) => {
    current = createTestApp()
    const { app } = current
    const runs = vi.fn()
    await app.register(resilience, { loadShedding: false, idempotency: { store: makeStore(), unscoped: true } })
    app.post('/orders', { config: { idempotency: { required: true } } }, async () => { runs(); return { order: runs.mock.calls.length } })
    const post = (payload: string) => app.inject({ method: 'POST', url: '/orders', headers: { 'idempotency-key': 'n1', 'content-type': 'application/json' }, payload })
    expect((await post(body)).statusCode).toBe(200)
    const reused = await post(other)
    expect(reused.statusCode).toBe(422)
    expect(reused.json().type).toBe('urn:fastify-resilience:problem:idempotency-key-reused')
    // The first body sent again is still a replay.
    expect((await post(body)).headers['idempotent-replayed']).toBe('true')
    expect(runs).toHaveBeenCalledTimes(1)
  })

  it('an async handler that calls reply.send() without returning the reply answers its own body, and its retry the same, with no error', async () => {
    current = createTestApp()
    const { app, logs } = current
    let runs = 0
    await app.register(resilience, { loadShedding: false, idempotency: { store: makeStore(), unscoped: true } })
    app.post('/orders', { config: { idempotency: { required: true } } }, async (_request, reply) => {
      runs++
      reply.code(201).send({ order: runs })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const order = async (): Promise<Response> => await fetch(`http://127.0.0.1:${port}/orders`, { method: 'POST', headers: { 'idempotency-key': 'send-1', 'content-type': 'application/json' }, body: '{}' })
    const first = await order()
    expect(first.status).toBe(201)
    expect(await first.json()).toEqual({ order: 1 })
    const retry = await order()
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(await retry.json()).toEqual({ order: 1 })
    expect(runs).toBe(1)
    expect(logs.filter((line) => line.level >= LOG_LEVEL.warn)).toEqual([])
  })

  it('the same key with a JSON string body that differs only in a lone surrogate is a 422 problem, and callers whose scopes differ only so keep their keys apart', async () => {
    current = createTestApp()
    const { app } = current
    const runs = vi.fn()
    await app.register(resilience, { loadShedding: false, idempotency: { store: makeStore(), scope: (request) => JSON.parse(String(request.headers['x-account'])) as string } })
    app.post('/notes', { config: { idempotency: { required: true } } }, async () => { runs(); return { note: runs.mock.calls.length } })
    // Longer than what the memory store keeps as text, so that both stores hash it.
    const pad = 'a'.repeat(300)
    const post = (key: string, account: string, payload: string) => app.inject({ method: 'POST', url: '/notes', headers: { 'idempotency-key': key, 'content-type': 'application/json', 'x-account': account }, payload })
    expect((await post('s1', '"alice"', `"${pad}\\ud800"`)).statusCode).toBe(200)
    const reused = await post('s1', '"alice"', `"${pad}\\udbff"`)
    expect(reused.statusCode).toBe(422)
    expect(reused.json().type).toBe('urn:fastify-resilience:problem:idempotency-key-reused')
    // Two accounts whose ids UTF-8 would write alike, one key each.
    expect((await post('s2', '"\\ud800"', '{}')).json()).toEqual({ note: 2 })
    const other = await post('s2', '"\\udbff"', '{}')
    expect(other.headers['idempotent-replayed']).toBeUndefined()
    expect(other.json()).toEqual({ note: 3 })
    expect(runs).toHaveBeenCalledTimes(3)
  })

  it('the same key on another resource of the route, or with another query string, is a 422 problem; the same URL is replayed', async () => {
    current = createTestApp()
    const { app } = current
    const transfers = vi.fn()
    await app.register(resilience, { loadShedding: false, idempotency: { store: makeStore(), unscoped: true } })
    app.post<{ Params: { id: string }, Querystring: { to?: string } }>('/accounts/:id/transfers', { config: { idempotency: { required: true } } }, async (request) => {
      transfers(request.params.id, request.query.to)
      return { from: request.params.id, to: request.query.to }
    })
    const transfer = (url: string, key: string) => app.inject({ method: 'POST', url, headers: { 'idempotency-key': key }, payload: { amount: 100 } })
    const first = await transfer('/accounts/1/transfers', 't1')
    expect(first.json()).toEqual({ from: '1' })
    const otherAccount = await transfer('/accounts/2/transfers', 't1')
    expect(otherAccount.statusCode).toBe(422)
    expect(otherAccount.json().type).toBe('urn:fastify-resilience:problem:idempotency-key-reused')
    const retry = await transfer('/accounts/1/transfers', 't1')
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.json()).toEqual({ from: '1' })
    await transfer('/accounts/1/transfers?to=alice', 't2')
    expect((await transfer('/accounts/1/transfers?to=mallory', 't2')).statusCode).toBe(422)
    expect((await transfer('/accounts/1/transfers?to=alice', 't2')).json()).toEqual({ from: '1', to: 'alice' })
    expect(transfers.mock.calls).toEqual([['1', undefined], ['1', 'alice']])
  })

  it('the same key with a body that differs only in a date a custom parser revived is a 422 problem', async () => {
    current = createTestApp()
    const { app } = current
    const transfers = vi.fn()
    await app.register(resilience, { loadShedding: false, idempotency: { store: makeStore(), unscoped: true } })
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      done(null, JSON.parse(body as string, (_key, value: unknown) => typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) ? new Date(value) : value))
    })
    app.post<{ Body: { executeAt: Date } }>('/transfers', { config: { idempotency: { required: true } } }, async (request) => {
      transfers(request.body.executeAt.toISOString())
      return { executeAt: request.body.executeAt }
    })
    const transfer = (executeAt: string) => app.inject({ method: 'POST', url: '/transfers', headers: { 'idempotency-key': 'd1', 'content-type': 'application/json' }, payload: JSON.stringify({ amount: 100, executeAt }) })
    expect((await transfer('2025-01-01T00:00:00.000Z')).statusCode).toBe(200)
    const later = await transfer('2030-06-30T12:00:00.000Z')
    expect(later.statusCode).toBe(422)
    expect(later.json().type).toBe('urn:fastify-resilience:problem:idempotency-key-reused')
    expect((await transfer('2025-01-01T00:00:00.000Z')).headers['idempotent-replayed']).toBe('true')
    expect(transfers.mock.calls).toEqual([['2025-01-01T00:00:00.000Z']])
  })

  it('on a route without parameters, another spelling of its URL without a query string is the same request', async () => {
    current = createTestApp({ routerOptions: { ignoreTrailingSlash: true, caseSensitive: false } })
    const { app } = current
    const created = vi.fn()
    await app.register(resilience, { loadShedding: false, idempotency: { store: makeStore(), unscoped: true } })
    app.post('/orders', { config: { idempotency: {} } }, async () => { created(); return { order: 1 } })
    const post = (url: string) => app.inject({ method: 'POST', url, headers: { 'idempotency-key': 's1' }, payload: { sku: 7 } })
    expect((await post('/orders')).statusCode).toBe(200)
    for (const url of ['/orders/', '/Orders']) expect((await post(url)).headers['idempotent-replayed']).toBe('true')
    expect((await post('/orders?coupon=x')).statusCode).toBe(422)
    expect(created).toHaveBeenCalledTimes(1)
  })

  it('an answer sent without a body is replayed without a body and without a content type', async () => {
    current = createTestApp()
    const { app } = current
    const created = vi.fn()
    await app.register(resilience, { loadShedding: false, idempotency: { store: makeStore(), unscoped: true } })
    app.post('/orders', { config: { idempotency: {} } }, async (_request, reply) => {
      created()
      return reply.code(201).header('location', '/orders/1').send()
    })
    const request = { method: 'POST' as const, url: '/orders', headers: { 'idempotency-key': 'e1' }, payload: { sku: 7 } }
    const first = await app.inject(request)
    const retry = await app.inject(request)
    expect(created).toHaveBeenCalledTimes(1)
    expect(first.headers['content-type']).toBeUndefined()
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.statusCode).toBe(201)
    expect(retry.headers.location).toBe('/orders/1')
    expect(retry.headers['content-type']).toBeUndefined()
    expect(retry.headers['content-length']).toBe('0')
    expect(retry.rawPayload.length).toBe(0)
  })

  it('the same key while the first request runs is a 409 with Retry-After; the owner\'s answer is kept', async () => {
    const hold = deferred()
    const { app, charges, entered } = await shop({ store: makeStore(), holdFirst: hold.promise })
    const first = charge(app, 'order-4')
    await waitFor(() => entered.mock.calls.length === 1)
    const concurrent = await charge(app, 'order-4')
    expect(concurrent.statusCode).toBe(409)
    expect(concurrent.json().type).toBe('urn:fastify-resilience:problem:idempotency-key-in-use')
    expect(concurrent.headers['retry-after']).toBe('1')
    hold.resolve()
    expect((await first).statusCode).toBe(201)
    const replay = await charge(app, 'order-4')
    expect(replay.statusCode).toBe(201)
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(charges).toHaveBeenCalledTimes(1)
  })

  it('200 concurrent identical requests run the handler exactly once', async () => {
    const { app, charges } = await shop({ store: makeStore(), handlerDelayMs: 30 })
    const responses = await Promise.all(Array.from({ length: 200 }, () => charge(app, 'burst')))
    expect(charges).toHaveBeenCalledTimes(1)
    const statuses = responses.map((res) => res.statusCode)
    expect(statuses.filter((status) => status === 201)).toHaveLength(1 + responses.filter((res) => res.headers['idempotent-replayed'] === 'true').length)
    expect(statuses.filter((status) => status !== 201 && status !== 409)).toEqual([])
  })

  it('4xx answers are stored and replayed', async () => {
    const { app, charges } = await shop({ store: makeStore() })
    const first = await charge(app, 'negative', -5)
    const retry = await charge(app, 'negative', -5)
    expect(first.statusCode).toBe(400)
    expect(retry.statusCode).toBe(400)
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(charges).toHaveBeenCalledTimes(1)
  })

  it('a 5xx releases the key so that the client may retry', async () => {
    const { app, charges } = await shop({ store: makeStore() })
    expect((await charge(app, 'crash', 500)).statusCode).toBe(500)
    expect((await charge(app, 'crash', 500)).statusCode).toBe(500)
    expect(charges).toHaveBeenCalledTimes(2)
  })

  it('a 429 releases the key: the retry after its Retry-After runs the handler instead of replaying the refusal', async () => {
    const { app, charges } = await shop({ store: makeStore() })
    const refused = await charge(app, 'limited', 429)
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['retry-after']).toBe('1')
    const retry = await charge(app, 'limited', 429)
    expect(retry.headers['idempotent-replayed']).toBeUndefined()
    expect(charges).toHaveBeenCalledTimes(2)
  })

  it.each([['returns', false], ['resolves', true]])('the same key from another caller never sees, blocks or replays the first caller\'s response (scope %s the account)', async (_how, asyncScope) => {
    const hold = deferred()
    const { app, charges, entered } = await shop({ store: makeStore(), holdFirst: hold.promise, asyncScope })
    const alice = charge(app, 'shared-key', 100, 'alice')
    await waitFor(() => entered.mock.calls.length === 1)
    const bob = await charge(app, 'shared-key', 100, 'bob')
    expect(bob.statusCode).toBe(201)
    expect(bob.headers['idempotent-replayed']).toBeUndefined()
    hold.resolve()
    expect((await alice).statusCode).toBe(201)
    const bobAgain = await charge(app, 'shared-key', 100, 'bob')
    expect(bobAgain.json().id).toBe(bob.json().id)
    expect(charges).toHaveBeenCalledTimes(2)
  })
})

/** The memory store, telling when a key has been released and how often a claim found its key in progress. */
class ObservedStore extends MemoryIdempotencyStore {
  readonly released = deferred()
  readonly completed = deferred()
  foundInProgress = 0
  override async claim (key: string, fingerprint: string, owner: string, leaseMs: number): Promise<ClaimOutcome> {
    const outcome = await super.claim(key, fingerprint, owner, leaseMs)
    if (outcome.kind === 'in-progress') this.foundInProgress++
    return outcome
  }

  override async release (key: string, owner: string): Promise<boolean> {
    const released = await super.release(key, owner)
    this.released.resolve()
    return released
  }

  override async complete (...args: Parameters<MemoryIdempotencyStore['complete']>): Promise<boolean> {
    const completed = await super.complete(...args)
    this.completed.resolve()
    return completed
  }
}

describe('idempotency plugin decisions', () => {
  it('a route whose methods the plugin does not cover is refused at startup rather than left unprotected; methods can add them', async () => {
    current = createTestApp()
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true } })
    expect(() => current?.app.put('/transfers/:id', { config: { idempotency: { required: true } } }, async () => 'x'))
      .toThrow(/route PUT \/transfers\/:id: config\.idempotency expects a route of a method the plugin's methods option covers \(POST, PATCH\); add the route's method to methods, instead got PUT/)
    // A route of several methods is fine when one of them is covered.
    current.app.route({ method: ['POST', 'PUT'], url: '/either', config: { idempotency: {} }, handler: async () => 'x' })
    await current.app.close()
    current = createTestApp()
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, methods: ['POST', 'PUT'] } })
    let runs = 0
    current.app.put('/transfers/:id', { config: { idempotency: { required: true } } }, async () => ({ run: ++runs }))
    const missing = await current.app.inject({ method: 'PUT', url: '/transfers/1', payload: { amount: 5 } })
    expect(missing.statusCode).toBe(400)
    const first = await current.app.inject({ method: 'PUT', url: '/transfers/1', headers: { 'idempotency-key': 'k1' }, payload: { amount: 5 } })
    const again = await current.app.inject({ method: 'PUT', url: '/transfers/1', headers: { 'idempotency-key': 'k1' }, payload: { amount: 5 } })
    expect(first.json()).toEqual({ run: 1 })
    expect(again.json()).toEqual({ run: 1 })
    expect(again.headers['idempotent-replayed']).toBe('true')
  })

  it('the memory store keeps large answers within its maxBytes: the oldest go first, and the newest still replay', async () => {
    current = createTestApp()
    const store = new MemoryIdempotencyStore({ maxBytes: 2 * 1024 * 1024 })
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, store } })
    let runs = 0
    // A "create and return the document" route: its answer is as large as the request.
    current.app.post('/documents', { config: { idempotency: { required: true } } }, async (request) => { runs++; return request.body })
    const document = 'x'.repeat(500_000)
    const post = (key: string) => current?.app.inject({ method: 'POST', url: '/documents', headers: { 'idempotency-key': key, 'content-type': 'text/plain' }, payload: document })
    for (let index = 0; index < 10; index++) expect((await post(`d${index}`))?.statusCode).toBe(200)
    expect(store.bytes).toBeLessThanOrEqual(2 * 1024 * 1024)
    expect(store.bytes).toBe(4 * 500_000)
    expect((await post('d9'))?.headers['idempotent-replayed']).toBe('true')
    expect(runs).toBe(10)
    // The first key's answer made room: its retry runs the handler again.
    expect((await post('d0'))?.headers['idempotent-replayed']).toBeUndefined()
    expect(runs).toBe(11)
  })

  it('a maxBodyBytes over the memory store\'s maxBytes is refused at startup: such answers could never be kept; the default store keeps 64 MiB', async () => {
    expect(new MemoryIdempotencyStore().maxBytes).toBe(64 * 1024 * 1024)
    current = createTestApp()
    await expect(current.app.register(resilience, { idempotency: { unscoped: true, maxBodyBytes: 2_000_000, store: new MemoryIdempotencyStore({ maxBytes: 1_000_000 }) } }))
      .rejects.toMatchObject({ code: 'FRS_ERR_OPTION_INVALID', message: expect.stringMatching(/option 'idempotency\.maxBodyBytes' expects at most the memory store's maxBytes \(1000000\)/) })
  })

  it('a route that turns idempotency on without a scope is refused at startup, unless unscoped', async () => {
    current = createTestApp()
    await current.app.register(resilience)
    expect(() => current?.app.post('/x', { config: { idempotency: {} } }, async () => 'x'))
      .toThrow(/route POST \/x: config\.idempotency expects a scope\(request\) option on the idempotency plugin \(or unscoped: true\)/)
    await current.app.close()
    current = createTestApp()
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true } })
    current.app.post('/x', { config: { idempotency: {} } }, async () => 'x')
    await current.app.ready()
    expect((await current.app.inject({ method: 'POST', url: '/x', headers: { 'idempotency-key': 'k' } })).body).toBe('x')
  })

  it('register(resilience, {}) alone still works', async () => {
    current = createTestApp()
    await current.app.register(resilience, {})
    current.app.post('/x', async () => 'x')
    expect((await current.app.inject({ method: 'POST', url: '/x' })).body).toBe('x')
  })

  it.each(['Set-Cookie', 'Authorization', 'Set-Cookie2', 'Cookie2'])('credentials can never be allow-listed for replay (%s)', async (name) => {
    current = createTestApp()
    await expect(current.app.register(resilience, { idempotency: { replayHeaders: ['location', name] } }).ready())
      .rejects.toThrow(`'idempotency.replayHeaders' expects header names other than credentials and cookies, instead got a 'string' ("${name.toLowerCase()}")`)
  })

  it('a lease shorter than a second is refused at registration: a renewal late by two thirds of it would let a duplicate run', async () => {
    for (const leaseMs of [1, 3, 999]) {
      current = createTestApp()
      await expect(current.app.register(resilience, { idempotency: { unscoped: true, leaseMs } }).ready())
        .rejects.toThrow(new RegExp(`'idempotency\\.leaseMs' expects an integer number of milliseconds from 1000 to 2147483647, instead got a 'number' \\(${leaseMs}\\)`))
      await current.app.close()
    }
    current = createTestApp()
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, leaseMs: 1000 } })
    current.app.post('/x', { config: { idempotency: {} } }, async () => 'x')
    expect((await current.app.inject({ method: 'POST', url: '/x', headers: { 'idempotency-key': 'k' } })).body).toBe('x')
  })

  it('replayHeaders takes only HTTP header names: an answer never carries another', async () => {
    current = createTestApp()
    await expect(current.app.register(resilience, { idempotency: { unscoped: true, replayHeaders: ['location', 'x request id'] } }).ready())
      .rejects.toThrow(/'idempotency\.replayHeaders' expects an array of which each is an HTTP header name \(.*\), instead got a 'string' \("x request id"\)/)
  })

  it('a subclass of the Redis store gets a text answer as a Buffer, as the IdempotencyStore interface promises', async () => {
    const bodies: unknown[] = []
    class AuditedStore extends RedisIdempotencyStore {
      override complete (...args: Parameters<RedisIdempotencyStore['complete']>): Promise<boolean> {
        bodies.push(args[2].body)
        return super.complete(...args)
      }
    }
    current = createTestApp()
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, store: new AuditedStore({ client: redis, prefix: `test:plugin:${Math.random()}:` }) } })
    current.app.post('/note', { config: { idempotency: {} } }, async () => ({ text: 'café' }))
    const request = { method: 'POST' as const, url: '/note', headers: { 'idempotency-key': 'audited' }, payload: {} }
    const first = await current.app.inject(request)
    const retry = await current.app.inject(request)
    expect(bodies).toHaveLength(1)
    expect(Buffer.isBuffer(bodies[0])).toBe(true)
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.rawPayload.equals(first.rawPayload)).toBe(true)
  })

  it('a store whose ready is not a function is refused at registration', async () => {
    current = createTestApp()
    const store = { claim: async (): Promise<ClaimOutcome> => ({ kind: 'acquired' }), renew: async () => true, complete: async () => true, release: async () => true, ready: true }
    await expect(current.app.register(resilience, { idempotency: { store: store as unknown as IdempotencyStore } }).ready())
      .rejects.toThrow(/'idempotency\.store\.ready' expects a function \(timeoutMs\) => Promise<boolean>, or absent, instead got/)
  })

  it('a response over maxBodyBytes is not stored: the key is released and a warning logged', async () => {
    current = createTestApp()
    const { app, logs } = current
    const runs = vi.fn()
    await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, maxBodyBytes: 10 } })
    app.post('/big', { config: { idempotency: {} } }, async () => { runs(); return 'x'.repeat(100) })
    await app.inject({ method: 'POST', url: '/big', headers: { 'idempotency-key': 'k' } })
    await app.inject({ method: 'POST', url: '/big', headers: { 'idempotency-key': 'k' } })
    expect(runs).toHaveBeenCalledTimes(2)
    expect(logs.some((line) => line.level === LOG_LEVEL.warn && line.msg === 'response not stored for idempotent replay')).toBe(true)
  })

  it('waitForInFlight replays the first answer to a concurrent duplicate instead of a 409', async () => {
    current = createTestApp()
    const runs = vi.fn()
    const store = new ObservedStore()
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, waitForInFlight: true, store } })
    const hold = deferred()
    current.app.post('/slow', { config: { idempotency: {} } }, async () => {
      runs()
      await hold.promise
      return { run: runs.mock.calls.length }
    })
    const send = async (): Promise<{ statusCode: number, body: string, headers: Record<string, unknown> }> =>
      await current!.app.inject({ method: 'POST', url: '/slow', headers: { 'idempotency-key': 'wait' }, payload: {} })
    const first = send()
    await waitFor(() => runs.mock.calls.length === 1)
    const pending = send()
    // The duplicate found the key in progress and waits.
    await waitFor(() => store.foundInProgress >= 1)
    hold.resolve()
    const duplicate = await pending
    expect(duplicate.statusCode).toBe(200)
    expect(duplicate.headers['idempotent-replayed']).toBe('true')
    expect(duplicate.body).toBe((await first).body)
    expect(runs).toHaveBeenCalledTimes(1)
  })

  it('a custom fingerprint decides what counts as the same request', async () => {
    current = createTestApp()
    const runs = vi.fn()
    await current.app.register(resilience, {
      loadShedding: false,
      idempotency: { unscoped: true, fingerprint: (request) => String((request.body as { orderId: string }).orderId) },
    })
    current.app.post('/orders', { config: { idempotency: {} } }, async () => { runs(); return 'ok' })
    const send = async (body: object): Promise<{ statusCode: number }> =>
      await current!.app.inject({ method: 'POST', url: '/orders', headers: { 'idempotency-key': 'fp' }, payload: body })
    expect((await send({ orderId: 'a', note: 'x' })).statusCode).toBe(200)
    expect((await send({ orderId: 'a', note: 'changed' })).statusCode).toBe(200)
    expect((await send({ orderId: 'b' })).statusCode).toBe(422)
    expect(runs).toHaveBeenCalledTimes(1)
  })

  it('a streamed response is not stored: the key is released and a warning logged', async () => {
    current = createTestApp()
    const { app, logs } = current
    const runs = vi.fn()
    await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true } })
    app.post('/export', { config: { idempotency: {} } }, async (_request, reply) => {
      runs()
      return reply.type('text/csv').send(Readable.from(['a,b\n', '1,2\n']))
    })
    const send = async (): Promise<{ body: string }> => await app.inject({ method: 'POST', url: '/export', headers: { 'idempotency-key': 's' } })
    expect((await send()).body).toBe('a,b\n1,2\n')
    expect((await send()).body).toBe('a,b\n1,2\n')
    expect(runs).toHaveBeenCalledTimes(2)
    expect(logs.some((line) => line.msg === 'response not stored for idempotent replay' && line.why === 'the body is a stream')).toBe(true)
  })

  it('the lease is renewed while a long handler runs, so a duplicate stays a 409 past the first lease', async () => {
    current = createTestApp()
    const runs = vi.fn()
    // Renewed every 500 ms: a busy machine would have to stall a renewal by a whole second to lose it.
    const leaseMs = 1500
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, leaseMs } })
    const hold = deferred()
    current.app.post('/long', { config: { idempotency: {} } }, async () => {
      runs()
      await hold.promise
      return 'done'
    })
    const send = async (): Promise<{ statusCode: number }> => await current!.app.inject({ method: 'POST', url: '/long', headers: { 'idempotency-key': 'long' } })
    const first = send()
    await waitFor(() => runs.mock.calls.length === 1)
    // Past the first lease.
    await new Promise((resolve) => setTimeout(resolve, leaseMs + 200))
    expect((await send()).statusCode).toBe(409)
    hold.resolve()
    expect((await first).statusCode).toBe(200)
    expect(runs).toHaveBeenCalledTimes(1)
  })

  it('GET requests are not affected by default, on a route that requires keys of its POSTs', async () => {
    current = createTestApp()
    const runs = vi.fn()
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true } })
    current.app.route({ method: ['GET', 'POST'], url: '/read', config: { idempotency: { required: true } }, handler: async () => { runs(); return 'ok' } })
    expect((await current.app.inject('/read')).statusCode).toBe(200)
    expect(runs).toHaveBeenCalledTimes(1)
    expect((await current.app.inject({ method: 'POST', url: '/read' })).statusCode).toBe(400)
  })

  it('after a 504 the key stays held until the handler stops, then every retry gets its answer', async () => {
    current = createTestApp()
    const { app } = current
    const release = deferred()
    const runs = vi.fn()
    const store = new ObservedStore()
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 50 }, idempotency: { unscoped: true, store } })
    app.post('/slow', { config: { idempotency: {} } }, async () => {
      runs()
      await release.promise
      return 'done'
    })
    const send = async (): Promise<{ statusCode: number, body: string, headers: Record<string, unknown> }> => await app.inject({ method: 'POST', url: '/slow', headers: { 'idempotency-key': 'k' } })
    expect((await send()).statusCode).toBe(504)
    expect((await send()).statusCode).toBe(409)
    release.resolve()
    await store.completed.promise
    const retry = await send()
    expect(runs).toHaveBeenCalledTimes(1)
    expect(retry.statusCode).toBe(200)
    expect(retry.body).toBe('done')
    expect(retry.headers['idempotent-replayed']).toBe('true')
  })

  it('a claim that ends only after the deadline\'s 504 adds no second answer, whether the store fails or replays', async () => {
    for (const late of ['fails', 'replays'] as const) {
      current = createTestApp()
      const { app, logs } = current
      // The caller's scope resolves only after the 504: the claim goes out then.
      const scoped = deferred()
      class AnsweringStore extends MemoryIdempotencyStore {
        override async claim (key: string, fingerprint: string, owner: string, leaseMs: number): Promise<ClaimOutcome> {
          if (late === 'fails') throw new Error('store unreachable')
          return await super.claim(key, fingerprint, owner, leaseMs)
        }
      }
      const store = new AnsweringStore()
      await app.register(resilience, {
        loadShedding: false,
        deadlines: { defaultTimeoutMs: 50 },
        idempotency: { store, scope: async () => { await scoped.promise; return 'acct' }, fingerprint: () => 'fp' },
      })
      app.post('/slow', { config: { idempotency: {} } }, async () => 'done')
      const storeKey = joinedStoreKey('acct', 'POST', '/slow', 'k')
      store.claimNow(storeKey, 'fp', 'o', 60_000)
      store.completeNow(storeKey, 'o', { status: 200, headers: {}, body: 'stored' }, 60_000)
      const response = await app.inject({ method: 'POST', url: '/slow', headers: { 'idempotency-key': 'k' } })
      expect(response.statusCode).toBe(504)
      scoped.resolve()
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(logs.filter((line) => /already sent/i.test(line.msg)).map((line) => line.msg)).toEqual([])
      await app.close()
    }
  })
})

describe('a keyed handler that answers with a stream after its deadline', () => {
  /** A short stream, and whether it was given up on (destroyed or cancelled) before it ended. */
  const streams = {
    'a Node stream': (): { body: unknown, discarded: () => boolean } => {
      const body = Readable.from(['line 1\n', 'line 2\n'])
      return { body, discarded: () => body.destroyed && !body.readableEnded }
    },
    'a web stream': (): { body: unknown, discarded: () => boolean } => {
      let cancelled = false
      const lines = ['line 1\n', 'line 2\n']
      const body = new ReadableStream({
        pull (controller) {
          const line = lines.shift()
          if (line === undefined) controller.close()
          else controller.enqueue(new TextEncoder().encode(line))
        },
        cancel () { cancelled = true },
      })
      return { body, discarded: () => cancelled }
    },
  }

  for (const [kind, make] of Object.entries(streams)) {
    it(`${kind}: the logs say it is not stored and the key is released, the stream is discarded, and the retry runs the handler`, async () => {
      current = createTestApp()
      const { app, logs } = current
      await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true } })
      let runs = 0
      let late: { discarded: () => boolean } | undefined
      app.post('/export', { config: { idempotency: {}, deadline: { timeoutMs: 300 } } }, async (request, reply) => {
        runs++
        const stream = make()
        if (runs === 1) {
          late = stream
          await new Promise((resolve) => { request.deadline.signal.addEventListener('abort', resolve) })
        }
        return reply.type('text/plain').send(stream.body)
      })
      const port = await listen(app)
      const post = async (): Promise<Response> => await fetch(`http://127.0.0.1:${port}/export`, { method: 'POST', headers: { 'idempotency-key': 'export-1' } })
      expect((await post()).status).toBe(504)
      const fate = /after its deadline|not stored|key released/
      await waitFor(() => logs.some((line) => line.msg === 'idempotency key released; the client may retry' || line.msg.endsWith('its answer is stored for the retry')))
      expect(logs.filter((line) => fate.test(line.msg)).map((line) => [line.msg, line.why])).toEqual([
        ['handler answered after its deadline; its answer is not stored', 'the body is a stream'],
        ['response not stored for idempotent replay', 'the body is a stream'],
        ['idempotency key released; the client may retry', 'the body is a stream'],
      ])
      // Nobody reads it: the 504 went out in its place.
      await waitFor(() => late?.discarded() === true)
      const retry = await post()
      expect(retry.status).toBe(200)
      expect(retry.headers.get('idempotent-replayed')).toBeNull()
      expect(await retry.text()).toBe('line 1\nline 2\n')
      expect(runs).toBe(2)
    })
  }
})

describe('the headers a replay sends, chosen again from the allow-list', () => {
  const ORDER = { method: 'POST' as const, url: '/orders', headers: { 'idempotency-key': 'stored-elsewhere' }, payload: { sku: 7 } }
  // What an earlier deploy with another replayHeaders, or anything with write access to the store, may have left in a record.
  const FOREIGN = { 'set-cookie': 'session=theirs', 'Set-Cookie': 'session=theirs', authorization: 'Bearer theirs', 'x-internal': 'allowed by another deploy' }

  async function orders (store: IdempotencyStore): Promise<{ app: TestApp['app'], runs: () => number }> {
    current = createTestApp()
    const { app } = current
    let runs = 0
    await app.register(resilience, { loadShedding: false, idempotency: { store, unscoped: true } })
    app.post('/orders', { config: { idempotency: {} } }, async (_request, reply) => reply.code(201).header('location', `/orders/${++runs}`).send({ order: runs }))
    return { app, runs: () => runs }
  }

  it('a Redis record whose headers hold set-cookie, credentials or a header outside the allow-list replays without them', async () => {
    const prefix = `test:plugin:foreign:${Math.random()}:`
    const { app, runs } = await orders(new RedisIdempotencyStore({ client: redis, prefix }))
    const first = await app.inject(ORDER)
    const [recordKey] = await redis.keys(`${prefix}*`)
    if (recordKey === undefined) throw new Error('no record stored')
    const stored = JSON.parse(await redis.hget(recordKey, 'headers') ?? 'null') as Record<string, string>
    await redis.hset(recordKey, 'headers', JSON.stringify({ ...stored, ...FOREIGN }))
    const retry = await app.inject(ORDER)
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.statusCode).toBe(201)
    expect(retry.headers.location).toBe('/orders/1')
    expect(retry.headers['content-type']).toBe(first.headers['content-type'])
    expect(retry.headers['set-cookie']).toBeUndefined()
    expect(retry.headers.authorization).toBeUndefined()
    expect(retry.headers['x-internal']).toBeUndefined()
    expect(retry.body).toBe(first.body)
    expect(runs()).toBe(1)
  })

  it('a memory record holding headers outside the allow-list replays without them; names in another case are read in lower case', async () => {
    const store = new MemoryIdempotencyStore()
    const { app, runs } = await orders(store)
    const storeKey = joinedStoreKey('', 'POST', '/orders', 'stored-elsewhere')
    store.claimNow(storeKey, inProcessFingerprint({ method: 'POST', route: '/orders', contentType: 'application/json', body: ORDER.payload }), 'o', 60_000)
    store.completeNow(storeKey, 'o', { status: 201, headers: { 'Content-Type': 'application/json; charset=utf-8', location: '/orders/0', ...FOREIGN }, body: '{"order":0}' }, 60_000)
    const replay = await app.inject(ORDER)
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(replay.headers.location).toBe('/orders/0')
    expect(replay.headers['set-cookie']).toBeUndefined()
    expect(replay.headers.authorization).toBeUndefined()
    expect(replay.headers['x-internal']).toBeUndefined()
    expect(replay.json()).toEqual({ order: 0 })
    expect(runs()).toBe(0)
  })
})

describe('the header that marks a degraded answer', () => {
  it('is replayed with the dependencies plugin registered in the route\'s own context, below the idempotency plugin', async () => {
    current = createTestApp()
    const { app } = current
    let runs = 0
    await app.register(resilience, { loadShedding: false, dependencies: false, idempotency: { unscoped: true } })
    await app.register(async (child) => {
      await child.register(dependencies, { quotes: { fallback: { value: 'stale' }, degradedHeader: 'X-Degraded', breaker: false } })
      child.post('/quote', { config: { idempotency: {} } }, async (request) => {
        runs++
        return { quote: await request.dependency('quotes').call(async () => { throw new Error('quotes down') }) }
      })
    })
    const post = async () => await app.inject({ method: 'POST', url: '/quote', headers: { 'idempotency-key': 'q1' }, payload: {} })
    const first = await post()
    expect(first.headers['x-degraded']).toBe('quotes')
    const replay = await post()
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.headers['x-degraded']).toBe('quotes')
    expect(replay.body).toBe(first.body)
    expect(runs).toBe(1)
  })
})
