import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { loadShedding } from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const NO_SIGNALS = { loopLag: false, pressure: false } as const

/** The umbrella with one slot, one place in line and chaos enabled; its log lines are kept. */
async function oneSlotWithChaos (): Promise<TestApp> {
  const testApp = createTestApp()
  await testApp.app.register(resilience, { idempotency: false, errorBudget: false, loadShedding: { ...NO_SIGNALS, limit: 1, maxQueue: 1, maxQueueWaitMs: 10_000 }, chaos: { enabled: true } })
  return testApp
}

describe('the capabilities\' onRequest work on a route, with what runs between and after it', () => {
  it('runs a hook appended between two capabilities between them: after the deadline is set, before admission', async () => {
    const app = Fastify()
    current = { app, logs: [] }
    const order: string[] = []
    await app.register(resilience, { loadShedding: false, chaos: false, idempotency: false, errorBudget: false })
    // Appended by an application's onRoute hook after deadlines: load shedding, registered next, must come after it.
    app.addHook('onRoute', (routeOptions) => {
      const hooks = routeOptions.onRequest === undefined ? [] : Array.isArray(routeOptions.onRequest) ? routeOptions.onRequest : [routeOptions.onRequest]
      routeOptions.onRequest = [...hooks, function between (request, _reply, done) {
        order.push(`between: deadline set ${String(Number.isFinite(request.deadline.remainingMs()))}, in flight ${app.loadShedding.stats().inFlight}`)
        done()
      }]
    })
    await app.register(loadShedding, { ...NO_SIGNALS, limit: 1, maxQueue: 0 })
    app.get('/x', async () => {
      order.push(`handler, in flight: ${app.loadShedding.stats().inFlight}`)
      return {}
    })
    await app.ready()

    expect((await app.inject('/x')).statusCode).toBe(200)
    expect(order).toEqual(['between: deadline set true, in flight 0', 'handler, in flight: 1'])
  })

  it('goes on to the handler after a wait for a slot, then a chaos delay (real sockets)', async () => {
    current = await oneSlotWithChaos()
    const { app, logs } = current
    const gate = deferred()
    const served: string[] = []
    app.get('/work/:name', { config: { chaos: { faults: [{ type: 'latency', rate: 1, ms: 20 }] } } }, async (request) => {
      const { name } = request.params as { name: string }
      served.push(name)
      if (name === 'first') await gate.promise
      return { name }
    })
    const port = await listen(app)
    const first = fetch(`http://127.0.0.1:${port}/work/first`)
    await waitFor(() => served.length === 1)
    const second = fetch(`http://127.0.0.1:${port}/work/second`)
    await waitFor(() => app.loadShedding.stats().queued === 1)
    expect(logs.filter((line) => line.msg === 'chaos fault injected')).toHaveLength(1)
    gate.resolve()
    expect((await first).status).toBe(200)
    const answer = await second
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({ name: 'second' })
    // The second request was delayed by chaos only once it had its slot.
    expect(logs.filter((line) => line.msg === 'chaos fault injected')).toHaveLength(2)
    expect(served).toEqual(['first', 'second'])
  })

  it('answers an exception injected after a wait for a slot as a 500 problem, and gives the slot back (real sockets)', async () => {
    current = await oneSlotWithChaos()
    const { app, logs } = current
    const gate = deferred()
    let held = 0
    app.get('/hold', { config: { chaos: false } }, async () => {
      held++
      if (held === 1) await gate.promise
      return { held }
    })
    app.get('/boom', { config: { chaos: { faults: [{ type: 'exception', rate: 1, message: 'injected after the wait' }] } } }, async () => ({ ran: true }))
    const port = await listen(app)
    const holding = fetch(`http://127.0.0.1:${port}/hold`)
    await waitFor(() => held === 1)
    const boom = fetch(`http://127.0.0.1:${port}/boom`)
    await waitFor(() => app.loadShedding.stats().queued === 1)
    // Granted when the first request ends: the chaos hook and its injected exception run from that request's release.
    gate.resolve()
    expect((await holding).status).toBe(200)
    const answer = await boom
    expect(answer.status).toBe(500)
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(logs.some((line) => line.err?.message === 'injected after the wait')).toBe(true)
    await waitFor(() => app.loadShedding.stats().inFlight === 0)
    expect((await fetch(`http://127.0.0.1:${port}/hold`)).status).toBe(200)
  })
})
