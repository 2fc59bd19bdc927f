import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { LOG_LEVEL } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import type { Deferred } from '../helpers/deferred.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { expectShed, settle, sheddingApp } from './helpers.js'

let current: TestApp | undefined
let gate: Deferred<void>
let busy: Array<Promise<unknown>> = []

// Only the summary's timer is faked; inject and settle() run on
// setImmediate and nextTick, which stay real. The plugin's clock is moved
// by hand along with the fake timers, so nothing here depends on how fast
// the machine is.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  gate = deferred()
  busy = []
})
afterEach(async () => {
  gate.resolve()
  await Promise.all(busy)
  vi.useRealTimers()
  await current?.app.close()
  current = undefined
})

const NO_SIGNALS = { loopLag: false, pressure: false } as const

/** An app with a shared limit of 1 (`/work`) and a bulkhead of 1 (`/report`), both busy until the gate opens. */
async function busyApp (clock: ManualClock): Promise<TestApp> {
  current = await sheddingApp({ ...NO_SIGNALS, limit: 1, maxQueue: 0, clock })
  const { app } = current
  app.get('/work', async () => { await gate.promise; return {} })
  app.get('/report', { config: { shedding: { maxConcurrent: 1, maxQueue: 0 } } }, async () => { await gate.promise; return {} })
  busy = [app.inject('/work'), app.inject('/report')]
  await settle(app)
  return current
}

function summaries (testApp: TestApp): Array<{ shed: unknown, byReason: unknown }> {
  return testApp.logs
    .filter((line) => line.msg === 'shedding load')
    .map((line) => {
      expect(line.level).toBe(LOG_LEVEL.warn)
      return { shed: line.shed, byReason: line.byReason }
    })
}

/** Moves the plugin's clock and the fake timers together. */
function advance (clock: ManualClock, ms: number): void {
  clock.advance(ms)
  vi.advanceTimersByTime(ms)
}

describe('load shedding: the `shedding load` summary', () => {
  it('writes the tail of an episode a second after the line before it, with its count, without waiting for a later shed', async () => {
    const clock = new ManualClock()
    const testApp = await busyApp(clock)
    const { app } = testApp
    for (let i = 0; i < 3; i++) expectShed(await app.inject('/work'), 'concurrency')
    expectShed(await app.inject('/report'), 'bulkhead')
    // The first shed is written at once; the three after it wait for the second to pass.
    expect(summaries(testApp)).toEqual([{ shed: 1, byReason: { concurrency: 1 } }])
    advance(clock, 999)
    expect(summaries(testApp)).toHaveLength(1)
    advance(clock, 1)
    expect(summaries(testApp)).toEqual([
      { shed: 1, byReason: { concurrency: 1 } },
      { shed: 3, byReason: { concurrency: 2, bulkhead: 1 } },
    ])
    // Nothing left to write: an idle server has no timer.
    expect(vi.getTimerCount()).toBe(0)
  })

  it('arms no timer for a shed written at once, and one for all the sheds of the second after it', async () => {
    const clock = new ManualClock()
    const testApp = await busyApp(clock)
    const { app } = testApp
    expectShed(await app.inject('/work'), 'concurrency')
    expect(vi.getTimerCount()).toBe(0)
    advance(clock, 300)
    for (let i = 0; i < 5; i++) expectShed(await app.inject('/work'), 'concurrency')
    expect(vi.getTimerCount()).toBe(1)
    // Due a second after the first line, not a second after the sheds it counts.
    advance(clock, 700)
    expect(summaries(testApp).map((line) => line.shed)).toEqual([1, 5])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('writes the count not written yet when the app closes, and leaves no timer behind', async () => {
    const clock = new ManualClock()
    const testApp = await busyApp(clock)
    const { app } = testApp
    for (let i = 0; i < 4; i++) expectShed(await app.inject('/work'), 'concurrency')
    expect(summaries(testApp).map((line) => line.shed)).toEqual([1])
    gate.resolve()
    await Promise.all(busy)
    current = undefined
    await app.close()
    expect(summaries(testApp)).toEqual([
      { shed: 1, byReason: { concurrency: 1 } },
      { shed: 3, byReason: { concurrency: 3 } },
    ])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('writes lines whose counts add up to stats().shed.total, in all and by reason, across episodes', async () => {
    const clock = new ManualClock()
    const testApp = await busyApp(clock)
    const { app } = testApp
    // Episodes of sheds at uneven times, apart by more and by less than a second.
    const steps = [0, 10, 250, 400, 990, 5, 1200, 3, 3, 700, 5000, 1, 1, 999, 2, 40]
    for (const [i, step] of steps.entries()) {
      advance(clock, step)
      if (i % 3 === 0) expectShed(await app.inject('/report'), 'bulkhead')
      else expectShed(await app.inject('/work'), 'concurrency')
    }
    advance(clock, 1000)
    const lines = summaries(testApp)
    expect(vi.getTimerCount()).toBe(0)
    const { shed } = app.loadShedding.stats()
    expect(shed.total).toBe(steps.length)
    expect(lines.reduce((sum, line) => sum + (line.shed as number), 0)).toBe(shed.total)
    const byReason: Record<string, number> = {}
    for (const line of lines) {
      for (const [reason, count] of Object.entries(line.byReason as Record<string, number>)) byReason[reason] = (byReason[reason] ?? 0) + count
    }
    expect(byReason).toEqual({ concurrency: shed.byReason.concurrency, bulkhead: shed.byReason.bulkhead })
  })
})
