import { describe, expect, it } from 'vitest'
import { BULKHEAD_FULL, Bulkhead } from '../../../src/dependencies/index.js'

describe('Bulkhead', () => {
  it('admits up to maxConcurrent, queues up to maxQueue, refuses the rest at once', async () => {
    const bulkhead = new Bulkhead(2, 1)
    const signal = new AbortController().signal
    const first = bulkhead.acquire(signal)
    const second = bulkhead.acquire(signal)
    const third = bulkhead.acquire(signal)
    expect(bulkhead.acquire(signal)).toBe(BULKHEAD_FULL)
    expect([bulkhead.active, bulkhead.queued]).toEqual([2, 1])
    if (first === BULKHEAD_FULL || second === BULKHEAD_FULL || third === BULKHEAD_FULL) throw new Error('unexpected refusal')
    const release = await first
    let thirdAdmitted = false
    third.then(() => { thirdAdmitted = true }, () => {})
    release()
    release()
    await third
    expect(thirdAdmitted).toBe(true)
    expect([bulkhead.active, bulkhead.queued]).toEqual([2, 0])
  })

  it('a waiter whose signal aborts leaves the queue at once', async () => {
    const bulkhead = new Bulkhead(1, 1)
    const held = bulkhead.acquire(new AbortController().signal)
    const controller = new AbortController()
    const waiting = bulkhead.acquire(controller.signal)
    if (held === BULKHEAD_FULL || waiting === BULKHEAD_FULL) throw new Error('unexpected refusal')
    controller.abort(new Error('deadline'))
    await expect(waiting).rejects.toThrow('deadline')
    expect(bulkhead.queued).toBe(0)
    expect(bulkhead.acquire(new AbortController().signal)).not.toBe(BULKHEAD_FULL)
  })
})
