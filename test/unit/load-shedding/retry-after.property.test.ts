import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { retryAfterSeconds } from '../../../src/load-shedding/index.js'
import { PROPERTY_RUNS } from '../../helpers/arbitraries.js'

/** A draw of Math.random: [0, 1). */
const draw = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
/** An expected wait in milliseconds, or none yet; sub-second waits often. */
const expectedWaitMs = fc.oneof(fc.constant(undefined), fc.double({ min: 0, max: 2000, noNaN: true }), fc.double({ min: 0, max: 1e9, noNaN: true }))
const settings = fc.integer({ min: 1, max: 86_400 }).chain((maxSeconds) => fc.record({
  maxSeconds: fc.constant(maxSeconds),
  fallbackSeconds: fc.integer({ min: 1, max: maxSeconds }),
  jitter: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 10, noNaN: true })),
}))

function waitOf (ms: number | undefined, fallbackSeconds: number): number {
  return Math.max(1, ms === undefined ? fallbackSeconds : ms / 1000)
}

describe('retryAfterSeconds (properties)', () => {
  it('advises whole seconds within [wait, wait × (1 + jitter)] rounded outwards, at least 1, at most maxSeconds', () => {
    fc.assert(fc.property(expectedWaitMs, settings, draw, draw, (ms, options, spread, rounding) => {
      const randoms = [spread, rounding]
      const seconds = retryAfterSeconds(ms, options, () => randoms.shift() ?? 0)
      const wait = waitOf(ms, options.fallbackSeconds)
      expect(Number.isInteger(seconds)).toBe(true)
      expect(seconds).toBeGreaterThanOrEqual(1)
      expect(seconds).toBeLessThanOrEqual(options.maxSeconds)
      expect(seconds).toBeGreaterThanOrEqual(Math.min(options.maxSeconds, Math.floor(wait)))
      expect(seconds).toBeLessThanOrEqual(Math.ceil(wait * (1 + options.jitter)))
    }), PROPERTY_RUNS)
  })

  it('without jitter, advises everyone the wait rounded up, whatever the random source says', () => {
    fc.assert(fc.property(expectedWaitMs, settings, fc.array(draw, { minLength: 1, maxLength: 4 }), (ms, options, randoms) => {
      const still = { ...options, jitter: 0 }
      let next = 0
      const seconds = retryAfterSeconds(ms, still, () => randoms[next++ % randoms.length] as number)
      expect(seconds).toBe(Math.min(options.maxSeconds, Math.ceil(waitOf(ms, options.fallbackSeconds))))
      expect(retryAfterSeconds(ms, still, () => 0)).toBe(seconds)
    }), PROPERTY_RUNS)
  })

  it('rounds without bias: over evenly spread rounding draws, the advice averages the spread wait', () => {
    const steps = 100
    fc.assert(fc.property(fc.double({ min: 0, max: 60_000, noNaN: true }), fc.double({ min: 0.01, max: 10, noNaN: true }), draw, (ms, jitter, spread) => {
      const options = { fallbackSeconds: 1, maxSeconds: 86_400, jitter }
      let total = 0
      for (let k = 0; k < steps; k++) {
        const randoms = [spread, k / steps]
        total += retryAfterSeconds(ms, options, () => randoms.shift() ?? 0)
      }
      const spreadWait = waitOf(ms, 1) * (1 + spread * jitter)
      expect(Math.abs(total / steps - spreadWait)).toBeLessThanOrEqual(1 / steps + 1e-9)
    }), PROPERTY_RUNS)
  })
})
