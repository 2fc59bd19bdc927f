import { afterEach, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { LOG_LEVEL } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { expectShed, settle, sheddingApp } from './helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const NO_SIGNALS = { loopLag: false, pressure: false } as const

describe('load shedding: concurrency limit and wait queue', () => {
  it('refuses with a 503 overloaded problem, reason concurrency, when the limit is reached and nobody may wait', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 0 })
    const { app, logs } = current
    const gate = deferred()
    app.get('/work', async () => { await gate.promise; return { done: true } })
    const first = app.inject('/work')
    await settle(app)
    const body = expectShed(await app.inject('/work'), 'concurrency')
    expect(body).toMatchObject({ priority: 'normal', detail: 'The server is running 1 request, as many as its concurrency limit allows for normal requests, and 0 are waiting.' })
    expect(typeof body.instance).toBe('string')
    gate.resolve()
    expect((await first).statusCode).toBe(200)
    expect(logs.some((line) => line.level === LOG_LEVEL.warn && line.msg === 'shedding load')).toBe(true)
  })

  it('logs one summary a second, whose counts by reason are, like its total, those since the previous line', async () => {
    const clock = new ManualClock()
    current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 0, clock })
    const { app, logs } = current
    const gate = deferred()
    app.get('/work', async () => { await gate.promise; return { done: true } })
    const first = app.inject('/work')
    await settle(app)
    for (let i = 0; i < 3; i++) expectShed(await app.inject('/work'), 'concurrency')
    clock.advance(1000)
    expectShed(await app.inject('/work'), 'concurrency')
    gate.resolve()
    await first
    const summaries = logs.filter((line) => line.msg === 'shedding load')
    expect(summaries.map((line) => [line.shed, line.byReason])).toEqual([[1, { concurrency: 1 }], [3, { concurrency: 3 }]])
  })

  it('serves a waiting request as soon as a slot frees up', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 1, maxQueueWaitMs: 10_000 })
    const { app } = current
    const gate = deferred()
    const served: string[] = []
    app.get('/work/:name', async (request) => {
      const { name } = request.params as { name: string }
      served.push(name)
      if (name === 'first') await gate.promise
      return { name }
    })
    const first = app.inject('/work/first')
    await settle(app)
    const second = app.inject('/work/second')
    await settle(app)
    expect(served).toEqual(['first'])
    expect(app.loadShedding.stats()).toMatchObject({ inFlight: 1, queued: 1 })
    gate.resolve()
    expect((await first).statusCode).toBe(200)
    expect((await second).statusCode).toBe(200)
    expect(served).toEqual(['first', 'second'])
  })

  it('caps the queue: with the line full, a newcomer is refused', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 2, maxQueueWaitMs: 10_000 })
    const { app } = current
    const gate = deferred()
    app.get('/work', async () => { await gate.promise; return { done: true } })
    const admitted = [app.inject('/work'), app.inject('/work'), app.inject('/work')]
    await settle(app)
    expect(app.loadShedding.stats()).toMatchObject({ inFlight: 1, queued: 2 })
    expectShed(await app.inject('/work'), 'concurrency')
    gate.resolve()
    for (const response of await Promise.all(admitted)) expect(response.statusCode).toBe(200)
  })

  it('refuses a request that waited past maxQueueWaitMs with reason queue-timeout', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 5, maxQueueWaitMs: 20 })
    const { app } = current
    const gate = deferred()
    app.get('/work', async () => { await gate.promise; return { done: true } })
    const first = app.inject('/work')
    await settle(app)
    const body = expectShed(await app.inject('/work'), 'queue-timeout')
    expect(body.detail).toBe('No slot freed up within 20 ms, the longest a request may wait.')
    gate.resolve()
    await first
  })

  it('serves waiting requests by priority: critical, then high, normal, low', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 10, maxQueueWaitMs: 10_000, criticalReserve: 0 })
    const { app } = current
    const gate = deferred()
    const served: string[] = []
    for (const priority of ['critical', 'high', 'normal', 'low'] as const) {
      app.get(`/${priority}`, { config: { shedding: { priority } } }, async () => {
        served.push(priority)
        await gate.promise
        return { priority }
      })
    }
    const blocker = app.inject('/normal')
    await settle(app)
    const waiting = ['/low', '/normal', '/critical', '/high'].map((url) => app.inject(url))
    await settle(app)
    gate.resolve()
    await Promise.all([blocker, ...waiting])
    expect(served).toEqual(['normal', 'critical', 'high', 'normal', 'low'])
  })

  it('makes room in a full queue by refusing the lowest class, not the newcomer of a higher one', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 1, maxQueueWaitMs: 10_000 })
    const { app } = current
    const gate = deferred()
    app.get('/low', { config: { shedding: { priority: 'low' } } }, async () => { await gate.promise; return {} })
    app.get('/high', { config: { shedding: { priority: 'high' } } }, async () => { await gate.promise; return {} })
    const blocker = app.inject('/high')
    await settle(app)
    const low = app.inject('/low')
    await settle(app)
    const high = app.inject('/high')
    const body = expectShed(await low, 'concurrency')
    expect(body.priority).toBe('low')
    gate.resolve()
    expect((await blocker).statusCode).toBe(200)
    expect((await high).statusCode).toBe(200)
  })

  it('keeps a reserved share of the limit for critical requests', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 10, maxQueue: 0, criticalReserve: 0.2 })
    const { app } = current
    const gate = deferred()
    app.get('/normal', async () => { await gate.promise; return {} })
    app.get('/critical', { config: { shedding: { priority: 'critical' } } }, async () => { await gate.promise; return {} })
    const normal = Array.from({ length: 8 }, () => app.inject('/normal'))
    await settle(app)
    expectShed(await app.inject('/normal'), 'concurrency')
    const critical = [app.inject('/critical'), app.inject('/critical')]
    await settle(app)
    expect(app.loadShedding.stats().inFlight).toBe(10)
    gate.resolve()
    for (const response of await Promise.all([...normal, ...critical])) expect(response.statusCode).toBe(200)
  })

  it('refuses with reason deadline a request whose deadline cannot be met behind the others', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 5, maxQueueWaitMs: 10_000 }, true)
    const { app } = current
    const gate = deferred()
    app.get('/work', async (request) => {
      if (request.headers['x-hold'] === 'yes') await gate.promise
      else await new Promise((resolve) => setTimeout(resolve, 60))
      return {}
    })
    // One completed request teaches the controller that work takes about 60 ms.
    expect((await app.inject('/work')).statusCode).toBe(200)
    const blocker = app.inject({ url: '/work', headers: { 'x-hold': 'yes' } })
    await settle(app)
    const body = expectShed(await app.inject({ url: '/work', headers: { 'x-request-timeout-ms': '40' } }), 'deadline')
    expect(body.detail).toBe('The request\'s deadline cannot be met behind the requests ahead of it.')
    gate.resolve()
    await blocker
  })

  it('exempts a route with shedding: false', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 0 })
    const { app } = current
    const gate = deferred()
    app.get('/work', async () => { await gate.promise; return {} })
    app.get('/health', { config: { shedding: false } }, async () => ({ status: 'ok' }))
    const held = app.inject('/work')
    await settle(app)
    expectShed(await app.inject('/work'), 'concurrency')
    expect((await app.inject('/health')).statusCode).toBe(200)
    gate.resolve()
    await held
  })

  it('recovers when the overload ends: slots come back and requests are admitted again', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 2, maxQueue: 0 })
    const { app } = current
    let gate = deferred()
    app.get('/work', async () => { await gate.promise; return {} })
    const burst = Array.from({ length: 6 }, () => app.inject('/work'))
    await settle(app)
    gate.resolve()
    const statuses = (await Promise.all(burst)).map((response) => response.statusCode).sort()
    expect(statuses).toEqual([200, 200, 503, 503, 503, 503])
    await settle(app)
    expect(app.loadShedding.stats()).toMatchObject({ inFlight: 0, queued: 0, admitted: 2 })
    gate = deferred()
    const after = [app.inject('/work'), app.inject('/work')]
    await settle(app)
    gate.resolve()
    for (const response of await Promise.all(after)) expect(response.statusCode).toBe(200)
  })

  it('counts sheds by reason and by priority in stats()', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 0 })
    const { app } = current
    const gate = deferred()
    app.get('/low', { config: { shedding: { priority: 'low' } } }, async () => { await gate.promise; return {} })
    app.get('/high', { config: { shedding: { priority: 'high' } } }, async () => { await gate.promise; return {} })
    const held = app.inject('/high')
    await settle(app)
    await app.inject('/low')
    await app.inject('/low')
    await app.inject('/high')
    gate.resolve()
    await held
    const stats = app.loadShedding.stats()
    expect(stats).toMatchObject({ limit: 1, admitted: 1, pressureLevel: 0, loopLaggingMs: 0, bulkheads: {} })
    expect(stats.shed).toEqual({
      total: 3,
      byReason: { concurrency: 3, 'queue-timeout': 0, deadline: 0, pressure: 0, bulkhead: 0 },
      byPriority: { critical: 0, high: 1, normal: 0, low: 2 },
    })
  })

  it('reports no limit when the limit is turned off', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: false })
    const { app } = current
    app.get('/work', async () => ({}))
    const responses = await Promise.all(Array.from({ length: 50 }, () => app.inject('/work')))
    for (const response of responses) expect(response.statusCode).toBe(200)
    expect(app.loadShedding.stats()).toMatchObject({ limit: null, admitted: 50 })
  })
})
