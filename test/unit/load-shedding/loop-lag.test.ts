import { describe, expect, it } from 'vitest'
import { LoopLagDetector } from '../../../src/load-shedding/index.js'
import { ManualClock } from '../../helpers/manual-clock.js'

const endOfTurn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

/**
 * Plays one turn of the event loop: a request at its start, `lengthMs` of
 * work, and requests of the given classes at its end. Returns which of
 * those were shed.
 */
async function turn (detector: LoopLagDetector, clock: ManualClock, lengthMs: number, late: Array<'low' | 'normal' | 'high' | 'critical'> = []): Promise<boolean[]> {
  expect(detector.shouldShed('normal', clock.now())).toBe(false)
  clock.advance(lengthMs)
  const shed = late.map((priority) => detector.shouldShed(priority, clock.now()))
  await endOfTurn()
  return shed
}

/** A detector with a manual clock: 5 ms target, 100 ms interval. */
function detectorWithClock (): { clock: ManualClock, detector: LoopLagDetector } {
  const clock = new ManualClock()
  return { clock, detector: new LoopLagDetector({ targetMs: 5, intervalMs: 100 }, () => clock.now()) }
}

/** A detector whose turns have lagged long enough (ten turns of 12 ms) to shed. */
async function laggingDetector (): Promise<{ clock: ManualClock, detector: LoopLagDetector }> {
  const lagging = detectorWithClock()
  for (let i = 0; i < 10; i++) await turn(lagging.detector, lagging.clock, 12)
  return lagging
}

describe('LoopLagDetector', () => {
  it('sheds nothing while turns are short', async () => {
    const { clock, detector } = detectorWithClock()
    for (let i = 0; i < 50; i++) expect(await turn(detector, clock, 4, ['low', 'normal'])).toEqual([false, false])
    expect(detector.laggingForMs(clock.now())).toBe(0)
  })

  it('an idle loop is not lagging: a pause after the last turn ends it, as read between requests', async () => {
    const { clock, detector } = await laggingDetector()
    expect(detector.laggingForMs(clock.now())).toBeGreaterThan(0)
    clock.advance(10_000)
    expect(detector.laggingForMs(clock.now())).toBe(0)
  })

  it('sheds nothing for a single long turn', async () => {
    const { clock, detector } = detectorWithClock()
    expect(await turn(detector, clock, 80, ['low', 'normal', 'high'])).toEqual([false, false, false])
  })

  it('sheds nothing for single long turns that come back within ten intervals but never lagged for one', async () => {
    // Two garbage collections or slow JSON.stringify calls 150 ms apart are not an overload.
    const { clock, detector } = detectorWithClock()
    expect(await turn(detector, clock, 8, ['low', 'normal'])).toEqual([false, false])
    for (let i = 0; i < 60; i++) await turn(detector, clock, 2)
    expect(detector.laggingForMs(clock.now())).toBe(0)
    expect(await turn(detector, clock, 8, ['low', 'normal'])).toEqual([false, false])
    clock.advance(50)
    expect(await turn(detector, clock, 8, ['low', 'normal'])).toEqual([false, false])
    // Nor does one turn longer than the interval by itself.
    clock.advance(50)
    expect(await turn(detector, clock, 150, ['low', 'normal'])).toEqual([false, false])
    for (let i = 0; i < 60; i++) await turn(detector, clock, 2)
    expect(await turn(detector, clock, 8, ['low', 'normal'])).toEqual([false, false])
  })

  it('sheds nothing when one turn in a few runs long, with short turns between (a saturated but healthy server)', async () => {
    // A long turn every 30 ms or so: lagging never lasts an interval of turns that all lag.
    const { clock, detector } = detectorWithClock()
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < 20; j++) await turn(detector, clock, 1.3)
      expect(await turn(detector, clock, 9, ['low', 'normal'])).toEqual([false, false])
    }
  })

  it('once turns have lagged for an interval, sheds late requests by class, never critical', async () => {
    const { clock, detector } = await laggingDetector()
    expect(detector.laggingForMs(clock.now())).toBeGreaterThanOrEqual(100)
    // 7 ms into a turn: past the target (normal) but within twice the target (high).
    expect(await turn(detector, clock, 7, ['low', 'normal', 'high', 'critical'])).toEqual([true, true, false, false])
    expect(await turn(detector, clock, 11, ['high', 'critical'])).toEqual([true, false])
  })

  it('admits the first request of every turn, of every class above low', async () => {
    const { clock, detector } = await laggingDetector()
    expect(detector.shouldShed('normal', clock.now())).toBe(false)
    await endOfTurn()
  })

  it('while lagging, gives low the first slot of a turn only after a turn that kept within the target', async () => {
    const { clock, detector } = await laggingDetector()
    // Higher classes alone keep the turns long: low gets nothing.
    expect(detector.shouldShed('low', clock.now())).toBe(true)
    clock.advance(4)
    await endOfTurn()
    // That turn kept within the target: the next one's first slot may go to low.
    expect(detector.shouldShed('low', clock.now())).toBe(false)
    expect(detector.laggingForMs(clock.now())).toBeGreaterThan(0)
    await endOfTurn()
  })

  it('stops shedding after an interval of short turns', async () => {
    const { clock, detector } = await laggingDetector()
    expect(await turn(detector, clock, 2, ['low'])).toEqual([true])
    for (let i = 0; i < 60; i++) await turn(detector, clock, 2)
    expect(detector.laggingForMs(clock.now())).toBe(0)
    expect(await turn(detector, clock, 4, ['low'])).toEqual([false])
  })

  it('stops shedding at once when the loop pauses between turns', async () => {
    const { clock, detector } = await laggingDetector()
    clock.advance(50)
    expect(await turn(detector, clock, 4, ['low'])).toEqual([false])
    expect(detector.laggingForMs(clock.now())).toBe(0)
  })

  it('resumes shedding at once when lag returns soon after it ended', async () => {
    const { clock, detector } = await laggingDetector()
    clock.advance(50)
    await turn(detector, clock, 2)
    await turn(detector, clock, 12)
    expect(await turn(detector, clock, 12, ['low'])).toEqual([true])
  })

  it('after a pause in an overload, sheds within the first turn that runs past the target', async () => {
    const { clock, detector } = await laggingDetector()
    // The process was descheduled for 20 ms: the pause ends the episode,
    // and the backlog it left makes the next turn long.
    clock.advance(20)
    expect(await turn(detector, clock, 4, ['low'])).toEqual([false])
    expect(await turn(detector, clock, 12, ['low', 'normal', 'high', 'critical'])).toEqual([true, true, true, false])
  })

  it('after an interval of short turns, sheds within the first turn that runs past the target', async () => {
    const { clock, detector } = await laggingDetector()
    for (let i = 0; i < 60; i++) await turn(detector, clock, 2)
    expect(detector.laggingForMs(clock.now())).toBe(0)
    expect(await turn(detector, clock, 7, ['low', 'normal', 'high'])).toEqual([true, true, false])
  })

  it('a turn that sheds because lag came back soon after an episode reports that turn as lagging, never 0 ms', async () => {
    const { clock, detector } = await laggingDetector()
    for (let i = 0; i < 60; i++) await turn(detector, clock, 2)
    expect(detector.shouldShed('normal', clock.now())).toBe(false)
    clock.advance(7)
    expect(detector.shouldShed('normal', clock.now())).toBe(true)
    // The refusal's detail and stats() read this while the turn runs.
    expect(detector.laggingForMs(clock.now())).toBe(7)
    await endOfTurn()
  })

  it('sheds nothing for a single long turn once ten intervals have passed since the last episode', async () => {
    const { clock, detector } = await laggingDetector()
    clock.advance(1000)
    expect(await turn(detector, clock, 80, ['low', 'normal', 'high'])).toEqual([false, false, false])
  })
})
