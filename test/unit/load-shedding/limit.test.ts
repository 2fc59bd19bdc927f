import { describe, expect, it } from 'vitest'
import { FixedLimit, GradientLimit } from '../../../src/load-shedding/index.js'
import type { GradientLimitSettings } from '../../../src/load-shedding/index.js'

const SETTINGS: GradientLimitSettings = { initialLimit: 20, minLimit: 4, maxLimit: 100, tolerance: 1.5, smoothing: 0.2, windowMs: 100, baselineWindows: 100 }

/** Feeds `windows` windows of samples with the given latency and in-flight count. */
function feed (limit: GradientLimit, windows: number, rttMs: number, inFlight: number, start = 0): number {
  let now = start
  for (let window = 0; window < windows; window++) {
    for (let i = 0; i < 10; i++) limit.record(rttMs, inFlight, now + i * 10)
    now += 100
  }
  limit.record(rttMs, inFlight, now)
  return now
}

describe('FixedLimit', () => {
  it('never moves, whatever it is told', () => {
    const limit = new FixedLimit(7)
    limit.record()
    limit.recordRefusal()
    expect(limit.current).toBe(7)
  })
})

describe('GradientLimit', () => {
  it('starts at the initial limit', () => {
    expect(new GradientLimit(SETTINGS).current).toBe(20)
  })

  it('grows while latency stays flat and the slots are used', () => {
    const limit = new GradientLimit(SETTINGS)
    feed(limit, 20, 10, 20)
    expect(limit.current).toBeGreaterThan(25)
  })

  it('does not grow while fewer than half its slots are used and nothing is refused', () => {
    const limit = new GradientLimit(SETTINGS)
    feed(limit, 20, 10, 5)
    expect(limit.current).toBe(20)
  })

  it('grows on refusals even when the slots it saw were few', () => {
    const limit = new GradientLimit(SETTINGS)
    let now = 0
    for (let window = 0; window < 20; window++) {
      limit.recordRefusal()
      now = feed(limit, 1, 10, 5, now)
    }
    expect(limit.current).toBeGreaterThan(20)
  })

  it('shrinks when latency rises above its baseline by more than the tolerance', () => {
    const limit = new GradientLimit(SETTINGS)
    const now = feed(limit, 10, 10, 20)
    const before = limit.current
    feed(limit, 10, 50, 20, now)
    expect(limit.current).toBeLessThan(before * 0.7)
  })

  it('tolerates latency within the tolerance without shrinking', () => {
    const limit = new GradientLimit(SETTINGS)
    const now = feed(limit, 10, 10, 20)
    const before = limit.current
    feed(limit, 5, 14, 20, now)
    expect(limit.current).toBeGreaterThanOrEqual(before)
  })

  it('stays within minLimit and maxLimit', () => {
    const shrinking = new GradientLimit({ ...SETTINGS, minLimit: 10 })
    const now = feed(shrinking, 5, 10, 20)
    feed(shrinking, 30, 1000, 20, now)
    expect(shrinking.current).toBe(10)
    const growing = new GradientLimit(SETTINGS)
    feed(growing, 500, 10, 100)
    expect(growing.current).toBe(100)
  })

  /** A limit that learned 10 ms, then saw `slowMs` for 20 windows; returns it, the time and its value then. */
  function squeezed (slowMs: number): { limit: GradientLimit, now: number, squeezedTo: number } {
    const limit = new GradientLimit(SETTINGS)
    const now = feed(limit, 20, slowMs, 20, feed(limit, 10, 10, 20))
    return { limit, now, squeezedTo: limit.current }
  }

  it('takes a lasting change of latency as the new normal after about baselineWindows windows', () => {
    const { limit, now, squeezedTo } = squeezed(50)
    feed(limit, 300, 50, 100, now)
    expect(limit.baselineMs).toBeGreaterThan(40)
    expect(limit.current).toBeGreaterThan(squeezedTo * 2)
  })

  it('recovers after latency falls back', () => {
    const { limit, now, squeezedTo } = squeezed(80)
    feed(limit, 40, 10, 100, now)
    expect(limit.current).toBeGreaterThan(squeezedTo * 2)
  })
})
