import { describe, expect, it } from 'vitest'
import { Breaker } from '../../../src/dependencies/index.js'
import type { Admission, BreakerSettings, Transition } from '../../../src/dependencies/index.js'
import { ManualClock } from '../../helpers/manual-clock.js'

function rateBreaker (clock: ManualClock, overrides: Partial<BreakerSettings> = {}): Breaker {
  return new Breaker({ trip: { kind: 'rate', failureRate: 0.5, minimumCalls: 10 }, windowMs: 10_000, openMs: 1000, maxOpenMs: 8000, probes: 1, ...overrides }, clock)
}

function calls (breaker: Breaker, results: Array<'success' | 'failure'>): void {
  for (const result of results) breaker.record(breaker.admit(), result)
}

const times = <const T>(n: number, value: T): T[] => Array.from({ length: n }, () => value)

describe('Breaker', () => {
  it('does not open below the minimum number of calls, whatever the failure rate', () => {
    const breaker = rateBreaker(new ManualClock())
    calls(breaker, times(9, 'failure'))
    expect(breaker.name).toBe('closed')
    calls(breaker, ['failure'])
    expect(breaker.name).toBe('open')
  })

  it('opens exactly at the failure rate, not below it', () => {
    const below = rateBreaker(new ManualClock())
    calls(below, [...times(11, 'success'), ...times(10, 'failure')])
    expect(below.name).toBe('closed')
    const at = rateBreaker(new ManualClock())
    calls(at, [...times(10, 'success'), ...times(10, 'failure')])
    expect(at.name).toBe('open')
  })

  it('forgets failures that slid out of the window', () => {
    const clock = new ManualClock()
    const breaker = rateBreaker(clock)
    calls(breaker, times(9, 'failure'))
    clock.advance(10_000)
    calls(breaker, ['failure'])
    expect(breaker.counts().calls).toBe(1)
    expect(breaker.name).toBe('closed')
  })

  it('keeps failures still inside the window at its edge', () => {
    const clock = new ManualClock()
    const breaker = rateBreaker(clock)
    calls(breaker, times(9, 'failure'))
    clock.advance(8_999)
    calls(breaker, ['failure'])
    expect(breaker.name).toBe('open')
  })

  it('in consecutive mode opens after n failures in a row, a success resets the count', () => {
    const breaker = new Breaker({ trip: { kind: 'consecutive', failures: 3 }, windowMs: 10_000, openMs: 1000, maxOpenMs: 1000, probes: 1 }, new ManualClock())
    calls(breaker, ['failure', 'failure', 'success', 'failure', 'failure'])
    expect(breaker.name).toBe('closed')
    calls(breaker, ['failure'])
    expect(breaker.name).toBe('open')
  })

  it('rejects while open, with the time left until half-open', () => {
    const clock = new ManualClock()
    const breaker = rateBreaker(clock)
    calls(breaker, times(10, 'failure'))
    clock.advance(400)
    expect(breaker.admit()).toEqual({ kind: 'rejected', retryAfterMs: 600 })
  })

  it('half-open admits a bounded number of probes and closes only when all succeed', () => {
    const clock = new ManualClock()
    const breaker = rateBreaker(clock, { probes: 3 })
    calls(breaker, times(10, 'failure'))
    clock.advance(1000)
    const admitted: Admission[] = []
    for (let i = 0; i < 10; i++) admitted.push(breaker.admit())
    expect(admitted.filter((admission) => admission.kind === 'probe')).toHaveLength(3)
    expect(admitted.slice(3).every((admission) => admission.kind === 'rejected')).toBe(true)
    expect(breaker.name).toBe('half-open')
    breaker.record(admitted[0]!, 'success')
    breaker.record(admitted[1]!, 'success')
    expect(breaker.name).toBe('half-open')
    breaker.record(admitted[2]!, 'success')
    expect(breaker.name).toBe('closed')
  })

  it('a failed probe reopens it for twice as long, up to maxOpenMs', () => {
    const clock = new ManualClock()
    const breaker = rateBreaker(clock)
    const opened: number[] = []
    breaker.onTransition((transition: Transition) => { if (transition.to === 'open') opened.push(transition.openMs!) })
    calls(breaker, times(10, 'failure'))
    for (let i = 0; i < 5; i++) {
      clock.advance(breaker.openRemainingMs())
      breaker.record(breaker.admit(), 'failure')
    }
    expect(opened).toEqual([1000, 2000, 4000, 8000, 8000, 8000])
  })

  it('after closing, the next open period starts again from openMs', () => {
    const clock = new ManualClock()
    const breaker = rateBreaker(clock)
    calls(breaker, times(10, 'failure'))
    clock.advance(1000)
    breaker.record(breaker.admit(), 'failure')
    clock.advance(2000)
    breaker.record(breaker.admit(), 'success')
    expect(breaker.name).toBe('closed')
    calls(breaker, times(10, 'failure'))
    expect(breaker.openRemainingMs()).toBe(1000)
  })

  it('the time left open is told in whole milliseconds, rounded up, and stays open until a call comes', () => {
    const clock = new ManualClock()
    const breaker = rateBreaker(clock)
    calls(breaker, times(10, 'failure'))
    clock.advance(0.4)
    expect(breaker.openRemainingMs()).toBe(1000)
    clock.advance(999.2)
    expect(breaker.openRemainingMs()).toBe(1)
    clock.advance(5000)
    expect(breaker.openRemainingMs()).toBe(0)
    expect(breaker.name).toBe('open')
    breaker.admit()
    expect(breaker.name).toBe('half-open')
  })

  it('an ignored probe (caller gone) gives its place back without deciding anything', () => {
    const clock = new ManualClock()
    const breaker = rateBreaker(clock)
    calls(breaker, times(10, 'failure'))
    clock.advance(1000)
    const probe = breaker.admit()
    expect(breaker.admit().kind).toBe('rejected')
    breaker.record(probe, 'ignored')
    expect(breaker.name).toBe('half-open')
    expect(breaker.admit().kind).toBe('probe')
  })

  it('ignored calls are not counted, so aborted calls never open it', () => {
    const breaker = rateBreaker(new ManualClock())
    for (let i = 0; i < 50; i++) breaker.record(breaker.admit(), 'ignored')
    expect(breaker.name).toBe('closed')
    expect(breaker.counts().calls).toBe(0)
  })

  it('late results of calls admitted before it opened do not move it', () => {
    const clock = new ManualClock()
    const breaker = rateBreaker(clock)
    const early = breaker.admit()
    calls(breaker, times(10, 'failure'))
    clock.advance(1000)
    const probe = breaker.admit()
    breaker.record(early, 'success')
    expect(breaker.name).toBe('half-open')
    breaker.record(probe, 'success')
    expect(breaker.name).toBe('closed')
  })

  it('a half-open gate that refuses keeps it open', () => {
    const clock = new ManualClock()
    const breaker = rateBreaker(clock)
    let allow = false
    breaker.setHalfOpenGate(() => allow)
    calls(breaker, times(10, 'failure'))
    clock.advance(5000)
    expect(breaker.admit().kind).toBe('rejected')
    allow = true
    expect(breaker.admit().kind).toBe('probe')
  })

  it('follows the fleet: opens for the time given and closes when told', () => {
    const breaker = rateBreaker(new ManualClock())
    const seen: Transition[] = []
    breaker.onTransition((transition) => seen.push(transition))
    breaker.openFromFleet(700)
    expect(breaker.admit()).toEqual({ kind: 'rejected', retryAfterMs: 700 })
    breaker.closeFromFleet()
    expect(breaker.name).toBe('closed')
    expect(seen).toEqual([{ from: 'closed', to: 'open', openMs: 700, external: true }, { from: 'open', to: 'closed', external: true }])
  })
})
