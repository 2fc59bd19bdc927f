import { afterEach, describe, expect, it } from 'vitest'
import { LoopDelaySampler } from '../../../src/health/index.js'

const samplers: LoopDelaySampler[] = []
afterEach(() => {
  for (const sampler of samplers.splice(0)) sampler.stop()
})

function busy (ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until) { /* a blocked event loop */ }
}

describe('LoopDelaySampler', () => {
  it('sees a stall still going on, and keeps it for the window after the loop recovers', async () => {
    const sampler = new LoopDelaySampler(20, 10_000, () => performance.now())
    samplers.push(sampler)
    sampler.start()
    busy(300)
    // During the stall: the timer is already late.
    expect(sampler.delayMs()).toBeGreaterThanOrEqual(250)
    await new Promise((resolve) => setTimeout(resolve, 100))
    // After it: the late sample is kept for the window.
    expect(sampler.delayMs()).toBeGreaterThanOrEqual(250)
  })

  it('forgets a stall once the window has passed', async () => {
    const sampler = new LoopDelaySampler(10, 50, () => performance.now())
    samplers.push(sampler)
    sampler.start()
    busy(300)
    const forgotten = async (): Promise<boolean> => {
      for (let attempt = 0; attempt < 500; attempt++) {
        if (sampler.delayMs() < 250) return true
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      return false
    }
    expect(await forgotten()).toBe(true)
  })

  it('reports no delay when stopped', () => {
    const sampler = new LoopDelaySampler(10, 50, () => performance.now())
    expect(sampler.delayMs()).toBe(0)
  })
})
