import { afterEach, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { expectShed, settle, sheddingApp } from './helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const NO_SIGNALS = { loopLag: false, pressure: false } as const

/** An app whose only slot is taken; returns the Retry-After of the next request and frees the slot. */
async function retryAfterOfRefusal (random: () => number, retryAfter: { fallbackSeconds?: number, maxSeconds?: number, jitter?: number }): Promise<number> {
  current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 0, random, retryAfter })
  const { app } = current
  const gate = deferred()
  app.get('/work', async () => { await gate.promise; return {} })
  const held = app.inject('/work')
  await settle(app)
  const response = await app.inject('/work')
  expectShed(response, 'concurrency')
  gate.resolve()
  await held
  await app.close()
  return Number(response.headers['retry-after'])
}

describe('load shedding: Retry-After', () => {
  it('falls back to the configured value, spread by jitter, before the drain rate is known', async () => {
    expect(await retryAfterOfRefusal(() => 0, { fallbackSeconds: 3, jitter: 1 })).toBe(3)
    expect(await retryAfterOfRefusal(() => 0.999, { fallbackSeconds: 3, jitter: 1 })).toBe(6)
    expect(await retryAfterOfRefusal(() => 0.5, { fallbackSeconds: 3, jitter: 0 })).toBe(3)
  })

  it('spreads refused clients over the range instead of sending them all back together', async () => {
    const seen = new Set<number>()
    for (const random of [0, 0.3, 0.6, 0.9]) seen.add(await retryAfterOfRefusal(() => random, { fallbackSeconds: 4, jitter: 1 }))
    expect(seen.size).toBeGreaterThan(2)
    for (const seconds of seen) expect(seconds).toBeGreaterThanOrEqual(4)
    for (const seconds of seen) expect(seconds).toBeLessThanOrEqual(8)
  })

  it('is capped by maxSeconds', async () => {
    expect(await retryAfterOfRefusal(() => 0.999, { fallbackSeconds: 3, maxSeconds: 4, jitter: 1 })).toBe(4)
  })

  it('reports the smoothed completion rate in stats', async () => {
    const clock = new ManualClock()
    current = await sheddingApp({ ...NO_SIGNALS, limit: 20, clock })
    const { app } = current
    app.get('/quick', async () => ({}))
    // Five completions in the first 250 ms window: 20 per second, smoothed to 10.
    for (let i = 0; i < 5; i++) expect((await app.inject('/quick')).statusCode).toBe(200)
    clock.advance(250)
    expect(app.loadShedding.stats().drainPerSecond).toBe(10)
  })

  it('advises 1 or 2 s in a quiet period when the only slot frees within a fraction of a second', async () => {
    const clock = new ManualClock()
    current = await sheddingApp({ ...NO_SIGNALS, clock, random: () => 0.999, retryAfter: { jitter: 1 } })
    const { app } = current
    let gate = deferred()
    app.get('/report', { config: { shedding: { maxConcurrent: 1 } } }, async () => { await gate.promise; return {} })
    // Sparse traffic: one request a second, each holding the slot for 150 ms.
    for (let i = 0; i < 10; i++) {
      gate = deferred()
      const running = app.inject('/report')
      await settle(app)
      clock.advance(150)
      gate.resolve()
      expect((await running).statusCode).toBe(200)
      clock.advance(850)
    }
    gate = deferred()
    const held = app.inject('/report')
    await settle(app)
    const refused = await app.inject('/report')
    expectShed(refused, 'bulkhead')
    // The slot is expected back in about 150 ms: the advice spreads [1 s, 2 s],
    // the shortest Retry-After can say, and with jitter at its top it is 2.
    expect(refused.headers['retry-after']).toBe('2')
    gate.resolve()
    await held
  })

  it('advises the expected wait for a slot when busy: the requests ahead per slot times the mean service time', async () => {
    const clock = new ManualClock()
    let random = 0
    current = await sheddingApp({ ...NO_SIGNALS, limit: 4, maxQueue: 8, maxQueueWaitMs: 60_000, criticalReserve: 0, clock, random: () => random, retryAfter: { jitter: 1 } })
    const { app } = current
    let gate = deferred()
    app.get('/work', async () => { await gate.promise; return {} })
    // Requests hold their slot for 2 s.
    const first = Array.from({ length: 4 }, () => app.inject('/work'))
    await settle(app)
    clock.advance(2000)
    gate.resolve()
    for (const response of await Promise.all(first)) expect(response.statusCode).toBe(200)
    gate = deferred()
    const held = Array.from({ length: 12 }, () => app.inject('/work'))
    await settle(app)
    expect(app.loadShedding.stats()).toMatchObject({ inFlight: 4, queued: 8 })
    // 4 running and 8 waiting ahead, 4 slots: a slot for the newcomer after
    // 9 completions, one every 2000 / 4 ms, so 4.5 s; without spread, and
    // the draw that rounds it at its lowest, 4.
    expectShed(await app.inject('/work'), 'concurrency')
    expect((await app.inject('/work')).headers['retry-after']).toBe('4')
    // Spread halfway, 6.75 s, rounded up by a draw in the top three quarters: 7.
    random = 0.5
    expect((await app.inject('/work')).headers['retry-after']).toBe('7')
    // Jitter spreads it up to twice the wait: 9 s.
    random = 0.999
    expect((await app.inject('/work')).headers['retry-after']).toBe('9')
    gate.resolve()
    await Promise.all(held)
  })
})
