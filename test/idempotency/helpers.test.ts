import { afterEach, describe, expect, it, vi } from 'vitest'
import { CallTimeouts, LeaseKeeper } from '../../src/idempotency/index.js'
import type { Clock } from '../../src/clock.js'

const clock: Clock = { now: () => Date.now() }
afterEach(() => { vi.useRealTimers() })

describe('CallTimeouts', () => {
  it('passes results and errors through, and rejects a call that takes too long', async () => {
    vi.useFakeTimers()
    const timeouts = new CallTimeouts(100, clock)
    await expect(timeouts.run(Promise.resolve(7), 100, () => new Error('late'))).resolves.toBe(7)
    await expect(timeouts.run(Promise.reject(new Error('boom')), 100, () => new Error('late'))).rejects.toThrow('boom')
    const slow = timeouts.run(new Promise(() => {}), 50, () => new Error('late'))
    const caught = slow.catch((error: unknown) => error)
    vi.advanceTimersByTime(50)
    expect(await caught).toMatchObject({ message: 'late' })
    expect(vi.getTimerCount()).toBe(0)
  })

  it('many calls in flight share one timer', () => {
    vi.useFakeTimers()
    const timeouts = new CallTimeouts(100, clock)
    for (let index = 0; index < 100; index++) timeouts.run(new Promise(() => {}), 100, () => new Error('late')).catch(() => {})
    expect(vi.getTimerCount()).toBe(1)
    timeouts.close()
  })
})

describe('LeaseKeeper', () => {
  it('renews every held lease from one timer, which stops at its first tick with nothing held', () => {
    vi.useFakeTimers()
    const renewed: string[] = []
    const keeper = new LeaseKeeper<string>(100, (lease) => renewed.push(lease))
    keeper.hold('a')
    keeper.hold('b')
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(100)
    expect(renewed).toEqual(['a', 'b'])
    keeper.drop('a')
    vi.advanceTimersByTime(100)
    expect(renewed).toEqual(['a', 'b', 'b'])
    keeper.drop('b')
    vi.advanceTimersByTime(100)
    expect(renewed).toEqual(['a', 'b', 'b'])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('keeps its timer while leases come and go between ticks, instead of one timer per lease', () => {
    vi.useFakeTimers()
    const keeper = new LeaseKeeper<number>(100, () => {})
    const armed = vi.spyOn(globalThis, 'setInterval')
    for (let lease = 0; lease < 50; lease++) {
      keeper.hold(lease)
      keeper.drop(lease)
    }
    expect(armed).toHaveBeenCalledTimes(1)
    expect(vi.getTimerCount()).toBe(1)
    keeper.close()
    expect(vi.getTimerCount()).toBe(0)
    armed.mockRestore()
  })
})
