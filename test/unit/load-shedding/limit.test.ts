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
    limit.recordFull()
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
      limit.recordFull()
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
    let now = feed(shrinking, 5, 10, 20)
    let lowest = shrinking.current
    for (let window = 0; window < 30; window++) {
      now = feed(shrinking, 1, 1000, 20, now)
      lowest = Math.min(lowest, shrinking.current)
    }
    expect(lowest).toBe(10)
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

  it('takes a lasting change of latency as the new normal', () => {
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

  it('climbs back by doubling every other window once its floor shows a rise of latency to be the service\'s own, not a queue', () => {
    // A first baseline learned from quick requests only (the slow ones had
    // not finished yet), then the real mix: 30 ms whatever the concurrency,
    // with more clients than slots, so every window turns some away.
    const limit = new GradientLimit(SETTINGS)
    let now = feed(limit, 10, 5, 20)
    const path: number[] = []
    for (let window = 0; window < 20; window++) {
      limit.recordFull()
      now = feed(limit, 1, 30, limit.current, now)
      path.push(limit.current)
    }
    expect(Math.min(...path)).toBe(SETTINGS.minLimit)
    expect(limit.baselineMs).toBeGreaterThan(20)
    // From the floor to the ceiling in a few windows; √limit growth would still be near the floor.
    expect(limit.current).toBe(SETTINGS.maxLimit)
  })

  it('ends its climb from the floor at the first window that turns nobody away, as slow start ends at its threshold', () => {
    const limit = new GradientLimit({ ...SETTINGS, maxLimit: 10_000 })
    let now = feed(limit, 10, 5, 20)
    // Down to the floor and back up by doubling, until at least 32 slots.
    while (limit.current < 32) {
      limit.recordFull()
      now = feed(limit, 1, 30, limit.current, now)
    }
    // Demand met: every slot used, nobody turned away.
    now = feed(limit, 1, 30, limit.current, now)
    const caughtUp = limit.current
    // More clients again, same latency: growth is back to a smoothed √limit a
    // window, where one more doubling would take the limit to twice this.
    for (let window = 0; window < 4; window++) {
      limit.recordFull()
      now = feed(limit, 1, 30, limit.current, now)
    }
    expect(limit.current).toBeGreaterThan(caughtUp)
    expect(limit.current).toBeLessThan(caughtUp * 1.5)
  })

  /**
   * Windows of a sustained overload in front of a dependency with 8
   * workers and 50 ms calls: every slot is taken, more requests are
   * refused, and a call waits for a worker once more than 8 are in flight.
   */
  function overload (limit: GradientLimit, windows: number, start: number): { now: number, latencyMs: number } {
    let now = start
    let latencyMs = 0
    for (let window = 0; window < windows; window++) {
      latencyMs = 50 * Math.max(1, limit.current / 8)
      limit.recordFull()
      now = feed(limit, 1, latencyMs, limit.current, now)
    }
    return { now, latencyMs }
  }

  it('does not learn the queue it lets build as normal: a sustained overload keeps its latency', () => {
    const limit = new GradientLimit({ ...SETTINGS, minLimit: 8 })
    const settled = overload(limit, 100, feed(limit, 10, 50, 5))
    const later = overload(limit, 1000, settled.now)
    expect(settled.latencyMs).toBeLessThanOrEqual(150)
    expect(later.latencyMs).toBeLessThanOrEqual(settled.latencyMs * 1.1)
  })

  /**
   * Requests arriving every `1000 / ratePerSecond` ms in front of a
   * dependency of 8 workers whose calls take 10 ms, then `slowMs` from 5 s
   * on; a call waits for a free worker, first come first served. Returns
   * the mean latency of the requests admitted after `fromMs`.
   */
  function slowDependency (slowMs: number, ratePerSecond: number, seconds: number, fromMs: number): number {
    const limit = new GradientLimit({ initialLimit: 100, minLimit: 8, maxLimit: 1000, tolerance: 1.5, smoothing: 0.2, windowMs: 100, baselineWindows: 100 })
    const workerFreeAt = [0, 0, 0, 0, 0, 0, 0, 0]
    let running: Array<{ endsAt: number, startedAt: number, inFlightAtStart: number }> = []
    let latencySum = 0
    let counted = 0
    for (let now = 0; now < seconds * 1000; now += 1000 / ratePerSecond) {
      running.sort((a, b) => a.endsAt - b.endsAt)
      const done = running.filter((call) => call.endsAt <= now)
      running = running.slice(done.length)
      for (const call of done) {
        limit.record(call.endsAt - call.startedAt, call.inFlightAtStart, call.endsAt)
        if (call.startedAt >= fromMs) {
          latencySum += call.endsAt - call.startedAt
          counted++
        }
      }
      if (running.length >= limit.current) {
        limit.recordFull()
        continue
      }
      const worker = workerFreeAt.indexOf(Math.min(...workerFreeAt))
      const startsAt = Math.max(now, workerFreeAt[worker] as number)
      workerFreeAt[worker] = startsAt + (startsAt < 5000 ? 10 : slowMs)
      running.push({ endsAt: workerFreeAt[worker], startedAt: now, inFlightAtStart: running.length + 1 })
    }
    return latencySum / counted
  }

  it.each([50, 500])('after a dependency slows to %i ms under 4× its capacity, keeps latency near the slower calls\' own instead of learning the queue the higher limit let build', (slowMs) => {
    // The limit falls to its floor while calls admitted under the old,
    // higher limit still wait for a worker; their latency is the queue's.
    const capacity = 8 * 1000 / slowMs
    const meanMs = slowDependency(slowMs, 4 * capacity, 60, 40_000)
    expect(meanMs).toBeLessThanOrEqual(2.5 * slowMs)
  })
})
