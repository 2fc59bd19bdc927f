import { describe, expect, it } from 'vitest'
import { Coalescer } from '../../../src/dependencies/index.js'
import type { SharedCall } from '../../../src/dependencies/coalescer.js'
import { deferred } from '../../helpers/deferred.js'

describe('Coalescer', () => {
  it('identical calls in flight share one; a caller that aborts leaves alone; the call is cancelled only when the last one leaves', async () => {
    const coalescer = new Coalescer<string>()
    const answer = deferred<string>()
    let started = 0
    let shared: SharedCall | undefined
    const start = (call: SharedCall): Promise<string> => { started++; shared = call; return answer.promise }
    const short = new AbortController()
    const long = new AbortController()
    let joined = 0
    const first = coalescer.run('k', short.signal, () => 50, start, () => joined++)
    const second = coalescer.run('k', long.signal, () => 5000, start, () => joined++)
    expect([started, joined]).toEqual([1, 1])
    expect(shared?.remainingMs()).toBe(5000)
    short.abort(new Error('short deadline'))
    await expect(first).rejects.toThrow('short deadline')
    expect(shared?.signal.aborted).toBe(false)
    expect(shared?.remainingMs()).toBe(5000)
    answer.resolve('done')
    await expect(second).resolves.toBe('done')
    expect(coalescer.inFlight).toBe(0)
  })

  it('aborts the shared call when every caller has left', async () => {
    const coalescer = new Coalescer<string>()
    let shared: SharedCall | undefined
    const controller = new AbortController()
    const waiting = coalescer.run('k', controller.signal, () => 100, (call) => { shared = call; return new Promise(() => {}) }, () => {})
    controller.abort(new Error('gone'))
    await expect(waiting).rejects.toThrow('gone')
    expect(shared?.signal.aborted).toBe(true)
    let startedAgain = false
    await coalescer.run('k', new AbortController().signal, () => 100, () => { startedAgain = true; return Promise.resolve('fresh') }, () => {})
    expect(startedAgain).toBe(true)
  })
})
