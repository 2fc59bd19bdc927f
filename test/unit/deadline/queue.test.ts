import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DeadlineQueue } from '../../../src/deadline/index.js'
import type { Clock } from '../../../src/clock.js'

// Fake timers move Date.now(), so a Date-based clock follows them.
const clock: Clock = { now: () => Date.now() }

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

function queueOf (durationMs: number): { queue: DeadlineQueue<string>, expired: string[] } {
  const expired: string[] = []
  return { queue: new DeadlineQueue<string>(durationMs, clock, (context) => expired.push(context)), expired }
}

describe('DeadlineQueue', () => {
  it('expires entries in order, each at its own time, with one timer for all', () => {
    const { queue, expired } = queueOf(100)
    queue.add('a', clock.now() + 100)
    vi.advanceTimersByTime(30)
    queue.add('b', clock.now() + 100)
    queue.add('c', clock.now() + 100)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(69)
    expect(expired).toEqual([])
    vi.advanceTimersByTime(1)
    expect(expired).toEqual(['a'])
    vi.advanceTimersByTime(30)
    expect(expired).toEqual(['a', 'b', 'c'])
    expect(queue.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a cancelled entry never expires, and an empty queue holds no timer', () => {
    const { queue, expired } = queueOf(50)
    const first = queue.add('a', clock.now() + 50)
    const second = queue.add('b', clock.now() + 50)
    first.cancel()
    expect(queue.size).toBe(1)
    second.cancel()
    expect(queue.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(100)
    expect(expired).toEqual([])
  })

  it('cancelling the head re-arms for the next entry without expiring it early', () => {
    const { queue, expired } = queueOf(100)
    const head = queue.add('a', clock.now() + 100)
    vi.advanceTimersByTime(40)
    queue.add('b', clock.now() + 100)
    head.cancel()
    vi.advanceTimersByTime(60)
    expect(expired).toEqual([])
    vi.advanceTimersByTime(40)
    expect(expired).toEqual(['b'])
  })

  it('cancelling twice, or after expiry, is harmless', () => {
    const { queue, expired } = queueOf(10)
    const entry = queue.add('a', clock.now() + 10)
    vi.advanceTimersByTime(10)
    entry.cancel()
    entry.cancel()
    expect(expired).toEqual(['a'])
    expect(queue.size).toBe(0)
  })

  it('an entry a fraction of a millisecond from its expiry counts as due', () => {
    let now = 0
    const expired: string[] = []
    const lagging = new DeadlineQueue<string>(10, { now: () => now }, (context) => expired.push(context))
    lagging.add('a', 10)
    now = 9.5
    lagging.run()
    expect(expired).toEqual(['a'])
  })

  it('close stops the timer and forgets the entries', () => {
    const { queue, expired } = queueOf(10)
    queue.add('a', clock.now() + 10)
    queue.close()
    vi.advanceTimersByTime(50)
    expect(expired).toEqual([])
    expect(vi.getTimerCount()).toBe(0)
  })
})
