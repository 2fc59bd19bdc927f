import { describe, expect, it } from 'vitest'
import { PressureLadder, pressureSignal } from '../../../src/load-shedding/index.js'
import type { PressureSample } from '../../../src/load-shedding/index.js'

const CALM: PressureSample = { eventLoopDelay: 1, eventLoopUtilized: 0.2, heapUsed: 10_000_000, rssBytes: 50_000_000 }
const OFF = { maxEventLoopDelay: 0, maxEventLoopUtilization: 0, maxHeapUsedBytes: 0, maxRssBytes: 0 }

describe('pressureSignal', () => {
  it('finds nothing when every signal is under its threshold or off', () => {
    expect(pressureSignal(CALM, { maxEventLoopDelay: 100, maxEventLoopUtilization: 0.9, maxHeapUsedBytes: 1e9, maxRssBytes: 1e9 })).toBeUndefined()
    expect(pressureSignal({ eventLoopDelay: 1e6, eventLoopUtilized: 1, heapUsed: 1e12, rssBytes: 1e12 }, OFF)).toBeUndefined()
  })

  it.each([
    [{ maxEventLoopDelay: 100 }, { eventLoopDelay: 130 }, 'event-loop delay 130 ms over 100 ms'],
    [{ maxEventLoopDelay: 100 }, { eventLoopDelay: Infinity }, 'event loop blocked for a whole sampling interval (delay threshold 100 ms)'],
    [{ maxEventLoopUtilization: 0.9 }, { eventLoopUtilized: 0.97 }, 'event-loop utilisation 0.97 over 0.9'],
    [{ maxHeapUsedBytes: 100 * 1024 * 1024 }, { heapUsed: 150 * 1024 * 1024 }, 'heap 150 MiB over 100 MiB'],
    [{ maxRssBytes: 200 * 1024 * 1024 }, { rssBytes: 300 * 1024 * 1024 }, 'RSS 300 MiB over 200 MiB'],
    // Each in its own unit: a tiny threshold does not read as "over 0 MiB".
    [{ maxHeapUsedBytes: 1 }, { heapUsed: 16 * 1024 * 1024 }, 'heap 16 MiB over 1 byte'],
    [{ maxHeapUsedBytes: 512 * 1024 }, { heapUsed: 16 * 1024 * 1024 }, 'heap 16 MiB over 512 KiB'],
    [{ maxRssBytes: 2 * 1024 * 1024 * 1024 }, { rssBytes: 3.5 * 1024 * 1024 * 1024 }, 'RSS 3.5 GiB over 2 GiB'],
    // Decimals until the sample reads larger than its threshold.
    [{ maxHeapUsedBytes: 100 * 1024 * 1024 }, { heapUsed: 100.2 * 1024 * 1024 }, 'heap 100.2 MiB over 100 MiB'],
    [{ maxHeapUsedBytes: 100 * 1024 * 1024 }, { heapUsed: 100 * 1024 * 1024 + 1 }, 'heap 100 MiB over 100 MiB'],
  ])('names the signal over its threshold (%o)', (thresholds, sample, description) => {
    expect(pressureSignal({ ...CALM, ...sample }, { ...OFF, ...thresholds })).toBe(description)
  })
})

describe('PressureLadder', () => {
  it('sheds low at the first sign of pressure, one more class per step, never critical', () => {
    let pressed = true
    const ladder = new PressureLadder(100, () => pressed ? 'heap 2 MiB over 1 MiB' : undefined)
    expect(ladder.sheds('low', 0)).toBe(true)
    expect(ladder.sheds('normal', 50)).toBe(false)
    expect(ladder.sheds('normal', 100)).toBe(true)
    expect(ladder.sheds('high', 150)).toBe(false)
    expect(ladder.sheds('high', 200)).toBe(true)
    expect(ladder.sheds('critical', 1000)).toBe(false)
    expect(ladder.level).toBe(3)
    expect(ladder.signal).toBe('heap 2 MiB over 1 MiB')
    pressed = false
    expect(ladder.sheds('high', 1100)).toBe(false)
    expect(ladder.sheds('normal', 1150)).toBe(true)
  })

  it('gives one class back per step without pressure, all at once after a long quiet', () => {
    let pressed = true
    const ladder = new PressureLadder(100, () => pressed ? 'pressure' : undefined)
    for (let t = 0; t <= 300; t += 100) ladder.sheds('normal', t)
    expect(ladder.level).toBe(3)
    pressed = false
    ladder.sheds('normal', 400)
    expect(ladder.level).toBe(2)
    expect(ladder.sheds('low', 10_000)).toBe(false)
    expect(ladder.level).toBe(0)
  })

  it('probes at most once per step', () => {
    let probes = 0
    const ladder = new PressureLadder(100, () => { probes++; return undefined })
    for (let t = 0; t < 1000; t += 10) ladder.sheds('low', t)
    expect(probes).toBe(10)
  })
})
