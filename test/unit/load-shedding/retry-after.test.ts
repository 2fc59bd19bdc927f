import { describe, expect, it } from 'vitest'
import { DrainRate, retryAfterSeconds } from '../../../src/load-shedding/index.js'

const SETTINGS = { fallbackSeconds: 3, maxSeconds: 30, jitter: 1 }

describe('retryAfterSeconds', () => {
  it('falls back to the configured value when there is no drain estimate', () => {
    expect(retryAfterSeconds(100, 0, SETTINGS, () => 0)).toBe(3)
    expect(retryAfterSeconds(100, 0, SETTINGS, () => 0.999)).toBe(6)
  })

  it('advises the time the backlog needs to drain, at least a second', () => {
    expect(retryAfterSeconds(40, 10, SETTINGS, () => 0)).toBe(4)
    expect(retryAfterSeconds(1, 1000, SETTINGS, () => 0)).toBe(1)
  })

  it('spreads advice over [estimate, estimate × (1 + jitter)] in whole seconds', () => {
    const seen = new Set<number>()
    for (let i = 0; i < 100; i++) seen.add(retryAfterSeconds(40, 10, SETTINGS, () => i / 100))
    expect([...seen].sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8])
  })

  it('never advises more than maxSeconds', () => {
    expect(retryAfterSeconds(10_000, 1, { ...SETTINGS, maxSeconds: 20 }, () => 0.999)).toBe(20)
    expect(retryAfterSeconds(15, 1, { ...SETTINGS, maxSeconds: 20 }, () => 0.999)).toBe(20)
  })

  it('gives the same advice to everyone without jitter', () => {
    expect(retryAfterSeconds(40, 10, { ...SETTINGS, jitter: 0 }, () => 0.999)).toBe(4)
  })
})

describe('DrainRate', () => {
  it('has no estimate before a window has closed', () => {
    const rate = new DrainRate()
    rate.record(0)
    rate.record(10)
    expect(rate.perSecond(100)).toBe(0)
  })

  it('measures completions per second over 250 ms windows, smoothed', () => {
    const rate = new DrainRate()
    for (let t = 0; t < 250; t += 5) rate.record(t)
    // 50 completions in 250 ms is 200 per second; the first window weighs half.
    expect(rate.perSecond(250)).toBe(100)
    for (let t = 250; t < 500; t += 5) rate.record(t)
    expect(rate.perSecond(500)).toBe(150)
  })

  it('decays to nothing when completions stop', () => {
    const rate = new DrainRate()
    for (let t = 0; t < 250; t += 5) rate.record(t)
    expect(rate.perSecond(250)).toBe(100)
    expect(rate.perSecond(750)).toBeLessThan(30)
    expect(rate.perSecond(10_000)).toBe(0)
  })
})
