import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BucketCounts } from '../../../src/metrics/bucket-counts.js'
import type { HistogramSample } from '../../../src/metrics/hub.js'

const bounds = fc.uniqueArray(fc.double({ min: 0, max: 100, noNaN: true }), { maxLength: 14 }).map((values) => values.sort((a, b) => a - b))
const observations = fc.array(fc.double({ min: 0, max: 200, noNaN: true }), { maxLength: 200 })

describe('BucketCounts', () => {
  it('reads as Prometheus expects: cumulative buckets of values at or under each bound, +Inf, sum and count', () => {
    fc.assert(fc.property(bounds, observations, (upper, values) => {
      const histogram = new BucketCounts(upper)
      for (const value of values) histogram.observe(value)
      const samples: HistogramSample[] = []
      histogram.read({ route: 'r' }, (sample) => samples.push(sample))
      const expectedSum = values.reduce((sum, value) => sum + value, 0)
      expect(samples).toEqual([
        ...upper.map((bound) => ({ suffix: '_bucket', labels: { le: bound, route: 'r' }, value: values.filter((value) => value <= bound).length })),
        { suffix: '_bucket', labels: { le: '+Inf', route: 'r' }, value: values.length },
        { suffix: '_sum', labels: { route: 'r' }, value: expectedSum },
        { suffix: '_count', labels: { route: 'r' }, value: values.length },
      ])
    }))
  })
})
