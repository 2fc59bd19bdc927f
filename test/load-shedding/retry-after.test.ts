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

  it('follows the measured drain rate: the backlog ahead divided by completions per second', async () => {
    const clock = new ManualClock()
    let random = 0
    current = await sheddingApp({ ...NO_SIGNALS, limit: 20, maxQueue: 0, clock, random: () => random, retryAfter: { fallbackSeconds: 1, jitter: 1 } })
    const { app } = current
    const gate = deferred()
    app.get('/quick', async () => ({}))
    app.get('/held', async () => { await gate.promise; return {} })
    // Five completions in the first 250 ms window: 20 per second, smoothed to 10.
    for (let i = 0; i < 5; i++) expect((await app.inject('/quick')).statusCode).toBe(200)
    clock.advance(250)
    const held = Array.from({ length: 20 }, () => app.inject('/held'))
    await settle(app)
    expect(app.loadShedding.stats().drainPerSecond).toBe(10)
    // 20 requests ahead at 10 per second: 2 seconds, spread up to 4.
    expect((await app.inject('/held')).headers['retry-after']).toBe('2')
    random = 0.999
    expect((await app.inject('/held')).headers['retry-after']).toBe('4')
    gate.resolve()
    await Promise.all(held)
  })
})
