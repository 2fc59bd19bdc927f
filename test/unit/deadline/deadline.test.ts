import { afterEach, describe, expect, it, vi } from 'vitest'
import { Deadline, MAX_TIMER_MS, unboundedDeadline, withDeadline } from '../../../src/deadline/index.js'
import type { RequestDeadline } from '../../../src/deadline/index.js'
import { ManualClock } from '../../helpers/manual-clock.js'

function deadlineOf (timeoutMs: number, clock = new ManualClock()): { deadline: Deadline, clock: ManualClock } {
  return { deadline: new Deadline({ timeoutMs, forwardHeader: 'x-request-timeout-ms', clock }), clock }
}

afterEach(() => { vi.useRealTimers() })

describe('Deadline', () => {
  it('follow() aborts a controller with the deadline\'s reason without making its signal', () => {
    const { deadline } = deadlineOf(100)
    const followed = new AbortController()
    const left = new AbortController()
    deadline.follow(followed)
    deadline.follow(left)
    deadline.unfollow(left)
    expect(deadline.aborted).toBe(false)
    deadline.clientClosed()
    expect(deadline.aborted).toBe(true)
    expect(followed.signal.reason).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED' })
    expect(deadline.reason).toBe(followed.signal.reason)
    expect(left.signal.aborted).toBe(false)
    // Following a deadline that has already aborted aborts at once.
    const late = new AbortController()
    deadline.follow(late)
    expect(late.signal.reason).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED' })
  })

  it('a finished deadline lets its followers go and never aborts them', () => {
    const { deadline } = deadlineOf(100)
    const before = new AbortController()
    deadline.follow(before)
    deadline.finish()
    const after = new AbortController()
    deadline.follow(after)
    deadline.expire()
    expect(before.signal.aborted).toBe(false)
    expect(after.signal.aborted).toBe(false)
    expect(deadline.aborted).toBe(false)
  })

  it('counts down with the clock and never goes below zero', () => {
    const { deadline, clock } = deadlineOf(300)
    expect(deadline.remainingMs()).toBe(300)
    clock.advance(120)
    expect(deadline.remainingMs()).toBe(180)
    expect(deadline.expired).toBe(false)
    clock.advance(500)
    expect(deadline.remainingMs()).toBe(0)
    expect(deadline.expired).toBe(true)
  })

  it('headers() forwards the remaining whole milliseconds', () => {
    const { deadline, clock } = deadlineOf(300)
    clock.advance(10.6)
    expect(deadline.headers()).toEqual({ 'x-request-timeout-ms': '289' })
  })

  it('the timer expires the deadline and aborts its signal with a deadline reason', () => {
    vi.useFakeTimers()
    const { deadline } = deadlineOf(100)
    const onExpire = vi.fn((context: Deadline) => { context.expire() })
    const signal = deadline.signal
    deadline.start(onExpire, deadline)
    vi.advanceTimersByTime(99)
    expect(signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(onExpire).toHaveBeenCalledExactlyOnceWith(deadline)
    expect(deadline.outcome).toBe('deadline-exceeded')
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toMatchObject({ code: 'FRS_ERR_DEADLINE_EXCEEDED', statusCode: 504 })
  })

  it('a signal asked for after the abort is already aborted with the same reason', () => {
    const { deadline } = deadlineOf(100)
    deadline.clientClosed()
    expect(deadline.signal.aborted).toBe(true)
    expect(deadline.signal.reason).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED' })
    expect(deadline.outcome).toBe('client-closed')
  })

  it('finish clears the timer and aborts nothing; later ends are ignored', () => {
    vi.useFakeTimers()
    const { deadline } = deadlineOf(100)
    const onExpire = vi.fn()
    deadline.start(onExpire, undefined)
    deadline.finish()
    vi.advanceTimersByTime(1000)
    expect(onExpire).not.toHaveBeenCalled()
    deadline.expire()
    deadline.clientClosed()
    expect(deadline.outcome).toBe('finished')
    expect(deadline.signal.aborted).toBe(false)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a child gets the smaller of its cap and the parent remaining time', () => {
    const { deadline, clock } = deadlineOf(300)
    clock.advance(100)
    expect(deadline.child(50).timeoutMs).toBe(50)
    expect(deadline.child(1000).timeoutMs).toBe(200)
    deadline.finish()
  })

  it('a child of Infinity has all the time its parent has left', () => {
    vi.useFakeTimers()
    const { deadline, clock } = deadlineOf(300)
    clock.advance(100)
    const child = deadline.child(Number.POSITIVE_INFINITY)
    expect(child.timeoutMs).toBe(200)
    expect(child.expired).toBe(false)
    expect(child.headers()).toEqual({ 'x-request-timeout-ms': '200' })
    vi.advanceTimersByTime(199)
    expect(child.signal.aborted).toBe(false)
    vi.advanceTimersByTime(1)
    expect(child.signal.reason).toMatchObject({ code: 'FRS_ERR_DEADLINE_EXCEEDED' })
    deadline.finish()
  })

  it('a child with no time at all is expired, its signal already aborted, and holds no timer', () => {
    vi.useFakeTimers()
    const { deadline, clock } = deadlineOf(300)
    const none = deadline.child(0)
    // Asked for before anything else: no moment in which the two disagree.
    expect(none.signal.aborted).toBe(true)
    expect(none.expired).toBe(true)
    expect(none.outcome).toBe('deadline-exceeded')
    expect(none.signal.reason).toMatchObject({ code: 'FRS_ERR_DEADLINE_EXCEEDED', statusCode: 504 })
    // The parent's time is up, though its own timer has not fired yet.
    clock.advance(300)
    const late = deadline.child(50)
    expect(late.timeoutMs).toBe(0)
    expect(late.signal.aborted).toBe(late.expired)
    expect(late.signal.aborted).toBe(true)
    expect(deadline.outcome).toBe('pending')
    expect(vi.getTimerCount()).toBe(0)
    deadline.finish()
  })

  it.each([
    ['NaN', Number.NaN, "a 'number' (NaN)"],
    ['a negative number', -1, "a 'number' (-1)"],
    ['negative Infinity', Number.NEGATIVE_INFINITY, "a 'number' (-Infinity)"],
    ['a string', '50', 'a \'string\' ("50")'],
    ['undefined', undefined, "'undefined'"],
  ])('child(%s) throws a TypeError naming the value, for a deadline and for none', (_name, maxMs, described) => {
    const { deadline } = deadlineOf(300)
    const unbounded = unboundedDeadline('x-request-timeout-ms', new ManualClock())
    for (const parent of [deadline, unbounded] as RequestDeadline[]) {
      const error = ((): unknown => {
        try { parent.child(maxMs as number) } catch (thrown) { return thrown }
        return undefined
      })()
      expect(error).toBeInstanceOf(TypeError)
      expect(error).toMatchObject({ code: 'FRS_ERR_DEADLINE_CHILD_INVALID', message: `fastify-resilience: deadline.child(maxMs) expects a number of milliseconds, 0 or more (Infinity for all the time the deadline has left), instead got ${described}` })
    }
    deadline.finish()
  })

  it('a child aborts with its parent, with the parent reason', () => {
    vi.useFakeTimers()
    const { deadline } = deadlineOf(300)
    const child = deadline.child(200)
    deadline.clientClosed()
    expect(child.signal.aborted).toBe(true)
    expect(child.signal.reason).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED' })
    expect(child.outcome).toBe('client-closed')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a child expiring leaves its parent running', () => {
    vi.useFakeTimers()
    const { deadline } = deadlineOf(300)
    const child = deadline.child(50)
    vi.advanceTimersByTime(50)
    expect(child.signal.reason).toMatchObject({ code: 'FRS_ERR_DEADLINE_EXCEEDED' })
    expect(deadline.outcome).toBe('pending')
    deadline.finish()
  })

  it('finishing the parent clears the timers of its children; dispose clears one early', () => {
    vi.useFakeTimers()
    const { deadline } = deadlineOf(300)
    deadline.child(100)
    const early = deadline.child(100)
    early.dispose()
    expect(vi.getTimerCount()).toBe(1)
    deadline.finish()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a child of an ended deadline is born ended', () => {
    const { deadline } = deadlineOf(300)
    deadline.expire()
    expect(deadline.child(100).signal.aborted).toBe(true)
    const { deadline: finished } = deadlineOf(300)
    finished.finish()
    expect(finished.child(100).outcome).toBe('finished')
  })
})

describe('unboundedDeadline', () => {
  it('never expires and forwards nothing, but its children are real deadlines', () => {
    vi.useFakeTimers()
    const unbounded = unboundedDeadline('x-request-timeout-ms', new ManualClock())
    expect(unbounded.remainingMs()).toBe(Number.POSITIVE_INFINITY)
    expect(unbounded.expired).toBe(false)
    expect(unbounded.headers()).toEqual({})
    const child = unbounded.child(40)
    expect(child.headers()).toEqual({ 'x-request-timeout-ms': '40' })
    vi.advanceTimersByTime(40)
    expect(child.signal.aborted).toBe(true)
    expect(unbounded.signal.aborted).toBe(false)
  })

  it('gives a child of Infinity, or of more than a timer holds, the longest timer, and a child of 0 no time', () => {
    vi.useFakeTimers()
    const unbounded = unboundedDeadline('x-request-timeout-ms', new ManualClock())
    const endless = unbounded.child(Number.POSITIVE_INFINITY)
    const long = unbounded.child(3e9)
    expect(endless.timeoutMs).toBe(MAX_TIMER_MS)
    expect(long.timeoutMs).toBe(MAX_TIMER_MS)
    vi.advanceTimersByTime(1000)
    expect(endless.expired || endless.signal.aborted || long.signal.aborted).toBe(false)
    endless.dispose()
    long.dispose()
    const none = unbounded.child(0)
    expect(none.signal.aborted).toBe(true)
    expect(none.expired).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('withDeadline', () => {
  it('adds the budget header and the signal, keeping the caller headers', () => {
    const { deadline } = deadlineOf(300)
    const init = withDeadline(deadline, { method: 'POST', headers: { 'content-type': 'application/json' } })
    const headers = new Headers(init.headers)
    expect(init.method).toBe('POST')
    expect(headers.get('content-type')).toBe('application/json')
    expect(headers.get('x-request-timeout-ms')).toBe('300')
    expect(init.signal).toBe(deadline.signal)
  })

  it('combines a signal the caller gave with the deadline signal', () => {
    const { deadline } = deadlineOf(300)
    const own = new AbortController()
    const init = withDeadline(deadline, { signal: own.signal })
    expect(init.signal?.aborted).toBe(false)
    own.abort(new Error('mine'))
    expect(init.signal?.aborted).toBe(true)
    const second = withDeadline(deadline, { signal: new AbortController().signal })
    deadline.expire()
    expect(second.signal?.reason).toMatchObject({ code: 'FRS_ERR_DEADLINE_EXCEEDED' })
  })
})
