import { describe, expect, it } from 'vitest'
import { DrainRate, retryAfterSeconds } from '../../../src/load-shedding/index.js'

const SETTINGS = { fallbackSeconds: 3, maxSeconds: 30, jitter: 1 }

describe('retryAfterSeconds', () => {
  it('falls back to the configured value before there is a service time', () => {
    expect(retryAfterSeconds(undefined, SETTINGS, () => 0)).toBe(3)
    expect(retryAfterSeconds(undefined, SETTINGS, () => 0.999)).toBe(6)
  })

  it('advises the expected wait for a slot, rounded up to whole seconds, at least a second', () => {
    expect(retryAfterSeconds(4000, SETTINGS, () => 0)).toBe(4)
    expect(retryAfterSeconds(4200, SETTINGS, () => 0)).toBe(5)
    expect(retryAfterSeconds(0, SETTINGS, () => 0)).toBe(1)
  })

  it('keeps a sub-second wait at 1 s, jitter included', () => {
    expect(retryAfterSeconds(150, SETTINGS, () => 0)).toBe(1)
    expect(retryAfterSeconds(150, SETTINGS, () => 0.999)).toBe(1)
    expect(retryAfterSeconds(499, SETTINGS, () => 0.999)).toBe(1)
  })

  it('spreads advice over [wait, wait × (1 + jitter)] in whole seconds', () => {
    const seen = new Set<number>()
    for (let i = 0; i < 100; i++) seen.add(retryAfterSeconds(4000, SETTINGS, () => i / 100))
    expect([...seen].sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8])
  })

  it('never advises more than maxSeconds', () => {
    expect(retryAfterSeconds(10_000_000, { ...SETTINGS, maxSeconds: 20 }, () => 0.999)).toBe(20)
    expect(retryAfterSeconds(15_000, { ...SETTINGS, maxSeconds: 20 }, () => 0.999)).toBe(20)
  })

  it('gives the same advice to everyone without jitter', () => {
    expect(retryAfterSeconds(4000, { ...SETTINGS, jitter: 0 }, () => 0.999)).toBe(4)
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
