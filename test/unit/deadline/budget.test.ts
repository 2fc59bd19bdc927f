import { describe, expect, it } from 'vitest'
import { MAX_TIMER_MS, resolveBudget } from '../../../src/deadline/index.js'

const policy = { routeTimeoutMs: 2000, safetyMarginMs: 10, minimumMs: 5 }

describe('resolveBudget', () => {
  it('without a caller budget the route timeout applies', () => {
    expect(resolveBudget(policy, undefined)).toEqual({ kind: 'admit', timeoutMs: 2000, source: 'route' })
  })

  it('a caller budget shortens the deadline, minus the safety margin', () => {
    expect(resolveBudget(policy, 300)).toEqual({ kind: 'admit', timeoutMs: 290, source: 'caller' })
  })

  it('a caller budget can never lengthen the route timeout', () => {
    expect(resolveBudget(policy, 60_000)).toEqual({ kind: 'admit', timeoutMs: 2000, source: 'route' })
  })

  it.each([0, 10, 14])('a caller budget of %i ms leaves less than the minimum and is refused', (callerMs) => {
    expect(resolveBudget(policy, callerMs)).toMatchObject({ kind: 'refuse', callerMs })
  })

  it('exactly the minimum is admitted', () => {
    expect(resolveBudget(policy, 15)).toEqual({ kind: 'admit', timeoutMs: 5, source: 'caller' })
  })

  it('with a zero minimum, a spent budget is still refused', () => {
    expect(resolveBudget({ ...policy, minimumMs: 0 }, 10).kind).toBe('refuse')
  })

  it('never hands a timer more than it can hold', () => {
    expect(resolveBudget({ ...policy, routeTimeoutMs: Number.MAX_SAFE_INTEGER }, undefined)).toMatchObject({ timeoutMs: MAX_TIMER_MS })
  })
})
