import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LatencySamples } from '../../../src/dependencies/index.js'
import { PROPERTY_RUNS } from '../../helpers/arbitraries.js'

/*
 * The samples against a model: the last `capacity` latencies added, sorted
 * afresh for every question. Whatever the latencies (repeated values,
 * zeros, infinities, NaN, which is not kept) and however many wrap the
 * ring, every quantile matches the model's.
 */

const QUANTILES = [0, 0.01, 0.5, 0.93, 0.95, 0.99, 1]

/** The model's quantile: the same index into the kept latencies, sorted. */
function modelQuantile (kept: readonly number[], q: number, minimum: number): number | undefined {
  if (kept.length < minimum || kept.length === 0) return undefined
  const sorted = [...kept].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

/** -0 and 0 are the same latency: toBe tells them apart, this does not. */
const plain = (ms: number | undefined): number | undefined => ms === 0 ? 0 : ms

const latency = fc.oneof(
  // Few distinct values, so that equal samples meet often.
  fc.integer({ min: 0, max: 5 }),
  fc.double({ min: 0, max: 1e6, noNaN: true }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0)
)

describe('LatencySamples', () => {
  it('answers every quantile as the last samples sorted afresh would, after any sequence of latencies', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.array(latency, { maxLength: 60 }), fc.integer({ min: 1, max: 10 }), (capacity, latencies, minimum) => {
      const samples = new LatencySamples(capacity)
      const kept: number[] = []
      for (const ms of latencies) {
        samples.add(ms)
        if (!Number.isNaN(ms)) {
          kept.push(ms)
          if (kept.length > capacity) kept.shift()
        }
        expect(samples.size).toBe(kept.length)
        for (const q of QUANTILES) {
          expect(plain(samples.quantile(q, minimum))).toBe(plain(modelQuantile(kept, q, minimum)))
        }
      }
    }), PROPERTY_RUNS)
  })

  it('answers no quantile before `minimum` samples, and the one sample after it', () => {
    const samples = new LatencySamples(4)
    expect(samples.quantile(0.5)).toBeUndefined()
    samples.add(12)
    expect(samples.quantile(0.5, 2)).toBeUndefined()
    expect(samples.quantile(0.95)).toBe(12)
  })
})
