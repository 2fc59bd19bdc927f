import { describe, expect, it } from 'vitest'
import { BucketRing, SliCounter } from '../../../src/error-budget/index.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

describe('BucketRing', () => {
  it('sums the buckets of a span, the current partial one included', () => {
    const ring = new BucketRing(1000, 10)
    ring.add(500, 1, 0)
    ring.add(1500, 1, 1)
    ring.add(2500, 2, 1)
    expect(ring.sum(2900, 3000)).toEqual({ total: 4, bad: 2 })
    expect(ring.sum(2900, 1000)).toEqual({ total: 2, bad: 1 })
  })

  it('forgets a bucket when time comes round to its slot again', () => {
    const ring = new BucketRing(1000, 4)
    ring.add(0, 5, 5)
    ring.add(4000, 1, 0)
    expect(ring.sum(4000, 4000)).toEqual({ total: 1, bad: 0 })
  })

  it('leaves out buckets older than the span even when their slots were not reused', () => {
    const ring = new BucketRing(1000, 10)
    ring.add(0, 3, 3)
    expect(ring.sum(5000, 3000)).toEqual({ total: 0, bad: 0 })
    expect(ring.sum(5000, 10_000)).toEqual({ total: 3, bad: 3 })
  })
})

describe('SliCounter', () => {
  it('rolls events out of a short window as time passes, but keeps them in the long ones', () => {
    const counter = new SliCounter(30 * DAY)
    const start = 100 * DAY
    for (let i = 0; i < 10; i++) counter.add(start + i * 1000, 1, i % 2)
    expect(counter.sum(start + 10_000, 5 * MINUTE)).toEqual({ total: 10, bad: 5 })
    expect(counter.sum(start + 6 * MINUTE, 5 * MINUTE)).toEqual({ total: 0, bad: 0 })
    expect(counter.sum(start + 6 * MINUTE, HOUR)).toEqual({ total: 10, bad: 5 })
    expect(counter.sum(start + 2 * DAY, 3 * DAY)).toEqual({ total: 10, bad: 5 })
    expect(counter.sum(start + 31 * DAY, 30 * DAY)).toEqual({ total: 0, bad: 0 })
  })

  it('keeps its memory flat while recording 1,000,000 events over a month', () => {
    const counter = new SliCounter(30 * DAY)
    const start = 100 * DAY
    const step = 30 * DAY / 1_000_000
    for (let i = 0; i < 1000; i++) counter.add(start + i * step, 1, 0)
    const before = process.memoryUsage().heapUsed
    for (let i = 1000; i < 1_000_000; i++) counter.add(start + i * step, 1, i % 1000 === 0 ? 1 : 0)
    const grownBytes = process.memoryUsage().heapUsed - before
    // Keeping anything per event would take 8 MB or more; what other tests
    // running beside this one allocate meanwhile stays well under that.
    expect(grownBytes).toBeLessThan(6 * 1024 * 1024)
    expect(counter.sum(start + 30 * DAY - 1, 30 * DAY + HOUR)).toEqual({ total: 1_000_000, bad: 999 })
  })
})
