import Fastify from 'fastify'
import underPressure from '@fastify/under-pressure'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { TestApp } from '../helpers/app.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { listen } from '../helpers/listen.js'
import { burst } from '../../examples/shop/burst.js'
import { expectShed, sheddingApp } from './helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

function burnCpu (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* busy */ }
}

describe('load shedding: process pressure through @fastify/under-pressure', () => {
  it('sheds low first, one class more per sample interval, never critical, naming the signal', async () => {
    const clock = new ManualClock()
    // Any heap is over one byte: the process is under pressure from the first sample.
    current = await sheddingApp({ limit: false, loopLag: false, pressure: { maxEventLoopDelay: 0, maxHeapUsedBytes: 1, sampleInterval: 50 }, clock })
    const { app } = current
    for (const priority of ['critical', 'high', 'normal', 'low'] as const) {
      app.get(`/${priority}`, { config: { shedding: { priority } } }, async () => ({ priority }))
    }
    await app.ready()
    await sleep(120)
    const body = expectShed(await app.inject('/low'), 'pressure')
    expect(body).toMatchObject({ priority: 'low' })
    expect(body.detail).toMatch(/^The server is overloaded \(heap \d+ MiB over 1 byte\); low-priority requests are refused until it recovers\.$/)
    expect((await app.inject('/normal')).statusCode).toBe(200)
    clock.advance(50)
    expectShed(await app.inject('/normal'), 'pressure')
    expect((await app.inject('/high')).statusCode).toBe(200)
    clock.advance(50)
    expectShed(await app.inject('/high'), 'pressure')
    clock.advance(10_000)
    expect((await app.inject('/critical')).statusCode).toBe(200)
    expect(app.loadShedding.stats()).toMatchObject({ pressureLevel: 3 })
    expect(app.loadShedding.stats().shed.byReason.pressure).toBe(3)
  })

  it('does not shed while every signal is under its threshold', async () => {
    // The loop delay is off: on a machine busy with other processes, a
    // sample interval can pass without one delay sample, which reads as a
    // loop blocked beyond measure and is over any threshold by design.
    // Utilisation never exceeds 1, so a threshold of 1 is on and out of reach.
    const unreachable = { maxEventLoopDelay: 0, maxEventLoopUtilization: 1, maxHeapUsedBytes: Number.MAX_SAFE_INTEGER, maxRssBytes: Number.MAX_SAFE_INTEGER }
    current = await sheddingApp({ limit: false, loopLag: false, pressure: { ...unreachable, sampleInterval: 50 } })
    const { app } = current
    app.get('/low', { config: { shedding: { priority: 'low' } } }, async () => ({}))
    await app.ready()
    await sleep(120)
    for (let i = 0; i < 5; i++) expect((await app.inject('/low')).statusCode).toBe(200)
    expect(app.loadShedding.stats().pressureLevel).toBe(0)
  })

  it('refuses to register beside a separately registered @fastify/under-pressure, saying what to do', async () => {
    const app = Fastify()
    await app.register(underPressure)
    await expect(app.register(resilience).ready()).rejects.toThrow(/loadShedding\.pressure.*false when @fastify\/under-pressure is registered separately/)
    await app.close()
  })

  it('registers beside @fastify/under-pressure when its own use of it is turned off', async () => {
    const app = Fastify()
    await app.register(underPressure)
    await app.register(resilience, { loadShedding: { pressure: false } })
    app.get('/', async () => ({}))
    expect((await app.inject('/')).statusCode).toBe(200)
    await app.close()
  })
})

describe('load shedding: event-loop lag over real sockets', () => {
  it('sheds late low-priority requests when turns keep lagging, and never critical ones', async () => {
    // Turns of 15 ms against a 5 ms target: the client in this process
    // works between the server's turns, and on a busy machine that pause
    // could pass a 1 ms target, which reads as the loop having caught up.
    current = await sheddingApp({ limit: false, pressure: false, loopLag: { targetMs: 5, intervalMs: 5 } })
    const { app } = current
    app.get('/low', { config: { shedding: { priority: 'low' } } }, async () => { burnCpu(15); return {} })
    app.get('/critical', { config: { shedding: { priority: 'critical' } } }, async () => { burnCpu(15); return {} })
    const port = await listen(app)
    const paths = Array.from({ length: 40 }, (_, i) => i % 2 === 0 ? '/low' : '/critical')
    const results = await burst(port, paths, 3)
    const critical = results.filter((result) => result.path === '/critical')
    const shedLow = results.filter((result) => result.path === '/low' && result.status === 503)
    expect(critical.every((result) => result.status === 200)).toBe(true)
    expect(shedLow.length).toBeGreaterThan(0)
    expect(JSON.parse(shedLow[0]?.body ?? '{}')).toMatchObject({ reason: 'pressure', priority: 'low' })
    expect(app.loadShedding.stats().shed.byPriority.critical).toBe(0)
  })
})
