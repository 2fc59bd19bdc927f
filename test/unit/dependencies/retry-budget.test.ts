import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RetryBudget } from '../../../src/dependencies/index.js'
import { ManualClock } from '../../helpers/manual-clock.js'

describe('RetryBudget', () => {
  it('allows the per-second floor with no traffic at all', () => {
    const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 2, windowMs: 10_000 }, new ManualClock())
    let allowed = 0
    while (budget.tryWithdraw()) allowed++
    expect(allowed).toBe(20)
  })

  it('earns ratio of a retry per call', () => {
    const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 0, windowMs: 10_000 }, new ManualClock())
    for (let i = 0; i < 1000; i++) budget.deposit()
    expect(budget.left()).toBe(100)
    let allowed = 0
    while (budget.tryWithdraw()) allowed++
    expect(allowed).toBe(100)
    expect(budget.left()).toBe(0)
  })

  it('refills as spent retries slide out of the window', () => {
    const clock = new ManualClock()
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 1, windowMs: 10_000 }, clock)
    while (budget.tryWithdraw());
    expect(budget.left()).toBe(0)
    clock.advance(10_000)
    expect(budget.left()).toBe(10)
  })

  it('never lets retries exceed ratio × calls + floor over any window (property)', () => {
    fc.assert(fc.property(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 0, max: 5 }),
      fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 3000 }), calls: fc.integer({ min: 0, max: 50 }), retries: fc.integer({ min: 0, max: 50 }) }), { maxLength: 40 }),
      (ratio, minPerSecond, steps) => {
        const clock = new ManualClock()
        const windowMs = 10_000
        const budget = new RetryBudget({ ratio, minPerSecond, windowMs }, clock)
        const events: Array<{ at: number, calls: number, retries: number }> = []
        for (const step of steps) {
          clock.advance(step.gapMs)
          for (let i = 0; i < step.calls; i++) budget.deposit()
          let granted = 0
          for (let i = 0; i < step.retries; i++) if (budget.tryWithdraw()) granted++
          events.push({ at: clock.now(), calls: step.calls, retries: granted })
          // Checked when retries are granted: over the last window (one
          // bucket wider, the counter's resolution) they stay in budget.
          // Later, calls may slide out of the window before the retries they
          // paid for, as in any sliding budget.
          if (granted === 0) continue
          const recent = events.filter((event) => event.at > clock.now() - windowMs - windowMs / 10)
          const callsInWindow = recent.reduce((sum, event) => sum + event.calls, 0)
          const retriesInWindow = events.filter((event) => event.at > clock.now() - windowMs + windowMs / 10).reduce((sum, event) => sum + event.retries, 0)
          expect(retriesInWindow).toBeLessThanOrEqual(Math.floor(minPerSecond * windowMs / 1000 + ratio * callsInWindow))
        }
      }
    ))
  })
})
