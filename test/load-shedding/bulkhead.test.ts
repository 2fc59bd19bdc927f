import { afterEach, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'
import { expectShed, settle, sheddingApp } from './helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const NO_SIGNALS = { loopLag: false, pressure: false } as const

describe('load shedding: per-route bulkheads', () => {
  it('limits a route to its own maxConcurrent and refuses the excess with reason bulkhead', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 100 })
    const { app } = current
    const gate = deferred()
    app.get('/reports', { config: { shedding: { maxConcurrent: 2 } } }, async () => { await gate.promise; return {} })
    const admitted = [app.inject('/reports'), app.inject('/reports')]
    await settle(app)
    const body = expectShed(await app.inject('/reports'), 'bulkhead')
    expect(body.detail).toBe('The route GET /reports runs at most 2 requests at once; its queue was full or the wait for a slot ran out.')
    expect(app.loadShedding.stats().bulkheads).toEqual({ 'GET /reports': { inFlight: 2, limit: 2, queued: 0 } })
    gate.resolve()
    for (const response of await Promise.all(admitted)) expect(response.statusCode).toBe(200)
  })

  it('gives routes that differ only by their constraints a bulkhead each, each in stats under its own name', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 100 })
    const { app } = current
    const gate = deferred()
    app.get('/reports', { constraints: { version: '1.0.0' }, config: { shedding: { maxConcurrent: 1 } } }, async () => { await gate.promise; return { v: 1 } })
    app.get('/reports', { constraints: { version: '2.0.0' }, config: { shedding: { maxConcurrent: 5 } } }, async () => { await gate.promise; return { v: 2 } })
    const v1 = { url: '/reports', headers: { 'accept-version': '1.x' } }
    const admitted = app.inject(v1)
    await settle(app)
    const body = expectShed(await app.inject(v1), 'bulkhead')
    expect(body.detail).toBe('The route GET /reports (version 1.0.0) runs at most 1 request at once; its queue was full or the wait for a slot ran out.')
    expect(app.loadShedding.stats().bulkheads).toEqual({
      'GET /reports (version 1.0.0)': { inFlight: 1, limit: 1, queued: 0 },
      'GET /reports (version 2.0.0)': { inFlight: 0, limit: 5, queued: 0 },
    })
    gate.resolve()
    expect((await admitted).statusCode).toBe(200)
  })

  it('shares one bulkhead between a GET route and its implicit HEAD route', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 100 })
    const { app } = current
    const gate = deferred()
    app.get('/reports', { config: { shedding: { maxConcurrent: 2 } } }, async () => { await gate.promise; return {} })
    const admitted = [app.inject('/reports'), app.inject({ method: 'HEAD', url: '/reports' })]
    await settle(app)
    expectShed(await app.inject('/reports'), 'bulkhead')
    expect(Object.keys(app.loadShedding.stats().bulkheads)).toEqual(['GET /reports'])
    gate.resolve()
    for (const response of await Promise.all(admitted)) expect(response.statusCode).toBe(200)
  })

  it('lets requests wait in the bulkhead up to its maxQueue and maxQueueWaitMs', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 100 })
    const { app } = current
    const gate = deferred()
    app.get('/reports', { config: { shedding: { maxConcurrent: 1, maxQueue: 1, maxQueueWaitMs: 10_000 } } }, async () => { await gate.promise; return {} })
    app.get('/exports', { config: { shedding: { maxConcurrent: 1, maxQueue: 1, maxQueueWaitMs: 20 } } }, async () => { await gate.promise; return {} })
    const reports = [app.inject('/reports'), app.inject('/reports')]
    await settle(app)
    expect(app.loadShedding.stats().bulkheads['GET /reports']).toEqual({ inFlight: 1, limit: 1, queued: 1 })
    expectShed(await app.inject('/reports'), 'bulkhead')
    const exportHeld = app.inject('/exports')
    await settle(app)
    expectShed(await app.inject('/exports'), 'bulkhead')
    gate.resolve()
    for (const response of await Promise.all([...reports, exportHeld])) expect(response.statusCode).toBe(200)
  })

  it('keeps a slow route from starving a fast one: fast requests are served while the slow route is stuck', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 4, maxQueue: 0, criticalReserve: 0 })
    const { app } = current
    const stuck = deferred()
    app.get('/slow', { config: { shedding: { maxConcurrent: 2 } } }, async () => { await stuck.promise; return {} })
    app.get('/fast', async () => ({ fast: true }))
    const port = await listen(app)
    const slow = Array.from({ length: 10 }, async () => fetch(`http://127.0.0.1:${port}/slow`))
    // Ten slow requests: two run, eight are refused, and none holds a shared slot.
    await waitFor(() => app.loadShedding.stats().shed.byReason.bulkhead === 8)
    expect(app.loadShedding.stats()).toMatchObject({ inFlight: 0, bulkheads: { 'GET /slow': { inFlight: 2 } } })
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/fast`)
      expect(response.status).toBe(200)
    }
    stuck.resolve()
    const statuses = (await Promise.all(slow)).map((response) => response.status).sort()
    expect(statuses).toEqual([200, 200, 503, 503, 503, 503, 503, 503, 503, 503])
  })

  it('without a bulkhead, the same slow route takes every shared slot and the fast route is refused', async () => {
    current = await sheddingApp({ ...NO_SIGNALS, limit: 4, maxQueue: 0, criticalReserve: 0 })
    const { app } = current
    const stuck = deferred()
    app.get('/slow', async () => { await stuck.promise; return {} })
    app.get('/fast', async () => ({ fast: true }))
    const slow = Array.from({ length: 10 }, () => app.inject('/slow'))
    await settle(app)
    expectShed(await app.inject('/fast'), 'concurrency')
    stuck.resolve()
    await Promise.all(slow)
  })
})
