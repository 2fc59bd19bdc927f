import { describe, expect, it } from 'vitest'
import { DrainRate, retryAfterSeconds } from '../../../src/load-shedding/index.js'

const SETTINGS = { fallbackSeconds: 3, maxSeconds: 30, jitter: 1 }

/** A random source that returns the given draws in turn: the spread's, then the rounding's. */
function draws (...values: number[]): () => number {
  let next = 0
  return () => values[next++ % values.length] as number
}

describe('retryAfterSeconds', () => {
  it('falls back to the configured value, spread, before there is a service time', () => {
    expect(retryAfterSeconds(undefined, SETTINGS, draws(0, 0))).toBe(3)
    // Spread to 4.5 s, then rounded down or up.
    expect(retryAfterSeconds(undefined, SETTINGS, draws(0.5, 0.4))).toBe(4)
    expect(retryAfterSeconds(undefined, SETTINGS, draws(0.5, 0.6))).toBe(5)
    expect(retryAfterSeconds(undefined, SETTINGS, draws(0.999, 0.999))).toBe(6)
  })

  it('rounds the spread wait to a neighbouring whole second, up in proportion to its fraction', () => {
    expect(retryAfterSeconds(4000, SETTINGS, draws(0, 0.999))).toBe(4)
    expect(retryAfterSeconds(4200, SETTINGS, draws(0, 0.7))).toBe(4)
    expect(retryAfterSeconds(4200, SETTINGS, draws(0, 0.9))).toBe(5)
    const rounded = Array.from({ length: 100 }, (_, i) => retryAfterSeconds(4200, SETTINGS, draws(0, i / 100)))
    expect(rounded.filter((seconds) => seconds === 5)).toHaveLength(20)
    expect(rounded.filter((seconds) => seconds === 4)).toHaveLength(80)
  })

  it('spreads a sub-second wait over [1 s, 2 s], so clients refused together get different seconds', () => {
    expect(retryAfterSeconds(0, SETTINGS, draws(0, 0.999))).toBe(1)
    expect(retryAfterSeconds(150, SETTINGS, draws(0.5, 0.4))).toBe(1)
    expect(retryAfterSeconds(150, SETTINGS, draws(0.5, 0.6))).toBe(2)
    expect(retryAfterSeconds(150, SETTINGS, draws(0.999, 0.999))).toBe(2)
  })

  it('spreads advice over [wait, wait × (1 + jitter)] in whole seconds, averaging the spread wait', () => {
    const advised: number[] = []
    for (let i = 0; i < 100; i++) {
      for (let j = 0; j < 100; j++) advised.push(retryAfterSeconds(4000, SETTINGS, draws(i / 100, j / 100)))
    }
    expect([...new Set(advised)].sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8])
    // The spread wait averages 4 × (1 + 0.495) s over these draws.
    const mean = advised.reduce((sum, seconds) => sum + seconds, 0) / advised.length
    expect(mean).toBeCloseTo(5.98, 2)
  })

  it('never advises more than maxSeconds', () => {
    expect(retryAfterSeconds(10_000_000, { ...SETTINGS, maxSeconds: 20 }, draws(0.999, 0.999))).toBe(20)
    expect(retryAfterSeconds(15_000, { ...SETTINGS, maxSeconds: 20 }, draws(0.999, 0.999))).toBe(20)
  })

  it('gives everyone the same advice without jitter: the wait rounded up, at least a second', () => {
    const still = { ...SETTINGS, jitter: 0 }
    expect(retryAfterSeconds(4000, still, draws(0.999))).toBe(4)
    expect(retryAfterSeconds(4200, still, draws(0))).toBe(5)
    expect(retryAfterSeconds(4200, still, draws(0.999))).toBe(5)
    expect(retryAfterSeconds(150, still, draws(0.999))).toBe(1)
    expect(retryAfterSeconds(undefined, still, draws(0.999))).toBe(3)
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
