import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BucketRing } from '../../../src/error-budget/index.js'
import { PROPERTY_RUNS } from '../../helpers/arbitraries.js'

const RESOLUTION_MS = 1000

/** A step of a ring's life: time moves (forward mostly, back at times), then events are added or a span is read. */
const step = fc.record({
  advanceMs: fc.oneof(fc.integer({ min: 0, max: 3 * RESOLUTION_MS }), fc.integer({ min: 0, max: 40 * RESOLUTION_MS }), fc.integer({ min: -5 * RESOLUTION_MS, max: 0 })),
  action: fc.oneof(
    fc.record({ kind: fc.constant('add' as const), total: fc.integer({ min: 1, max: 5 }), badShare: fc.double({ min: 0, max: 1, noNaN: true }) }),
    fc.record({ kind: fc.constant('sum' as const), spanMs: fc.integer({ min: 1, max: 30 * RESOLUTION_MS }) })
  ),
})

describe('BucketRing (property)', () => {
  it('sums what a list of every event, bucket by bucket, sums', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 16 }), fc.array(step, { maxLength: 200 }), (size, steps) => {
      const ring = new BucketRing(RESOLUTION_MS, size)
      // The plain model: every event with its bucket; time never runs back for the ring.
      const events: Array<{ bucket: number, total: number, bad: number }> = []
      let newest = -Infinity
      let now = 50 * RESOLUTION_MS
      for (const { advanceMs, action } of steps) {
        now = Math.max(0, now + advanceMs)
        const bucket = Math.max(Math.floor(now / RESOLUTION_MS), newest)
        if (action.kind === 'add') {
          const bad = Math.floor(action.total * action.badShare)
          ring.add(now, action.total, bad)
          events.push({ bucket, total: action.total, bad })
          newest = bucket
          continue
        }
        const first = bucket - Math.min(size, Math.ceil(action.spanMs / RESOLUTION_MS)) + 1
        const inSpan = events.filter((event) => event.bucket >= first && event.bucket <= bucket)
        expect(ring.sum(now, action.spanMs)).toEqual({
          total: inSpan.reduce((sum, event) => sum + event.total, 0),
          bad: inSpan.reduce((sum, event) => sum + event.bad, 0),
        })
      }
    }), PROPERTY_RUNS)
  })
})
