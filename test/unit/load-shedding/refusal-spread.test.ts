import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { RefusalSpread } from '../../../src/load-shedding/index.js'
import { waitFor } from '../../helpers/wait-for.js'

describe('RefusalSpread', () => {
  it('sends a turn\'s first refusal at once and each later one a step after the one before, in order', async () => {
    const spread = new RefusalSpread()
    const startedAt = performance.now()
    const sent: Array<{ position: number, atMs: number }> = []
    for (let position = 0; position < 4; position++) spread.later(() => sent.push({ position, atMs: performance.now() - startedAt }), 20, 1000, 0.5)
    expect(sent.map((entry) => entry.position)).toEqual([0])
    expect(spread.pending).toBe(3)
    await waitFor(() => sent.length === 4)
    expect(sent.map((entry) => entry.position)).toEqual([0, 1, 2, 3])
    // Due at 10, 30 and 50 ms; timers never fire early.
    const [, second, third, fourth] = sent.map((entry) => entry.atMs)
    expect(second).toBeGreaterThanOrEqual(9)
    expect(third).toBeGreaterThanOrEqual(29)
    expect(fourth).toBeGreaterThanOrEqual(49)
  })

  it('counts each turn\'s refusals afresh: a refusal in the next turn goes at once', async () => {
    const spread = new RefusalSpread()
    const sent: string[] = []
    spread.later(() => sent.push('first'), 60_000, 60_000, 0.5)
    spread.later(() => sent.push('second'), 60_000, 60_000, 0.5)
    await nextTurn()
    spread.later(() => sent.push('next turn'), 60_000, 60_000, 0.5)
    expect(sent).toEqual(['first', 'next turn'])
    spread.stop()
  })

  it('spreads the refusals that a step each would put past maxMs at random over it', async () => {
    const spread = new RefusalSpread()
    const sent: number[] = []
    spread.later(() => sent.push(0), 100, 50, 0.5)
    // (1 − 1 + 0.5) × 100 = 50 ms: within maxMs. (2 − 1 + 0.1) × 100 = 110 ms: past it, so 0.1 × 50 = 5 ms.
    spread.later(() => sent.push(1), 100, 50, 0.5)
    spread.later(() => sent.push(2), 100, 50, 0.1)
    await waitFor(() => sent.length === 3)
    expect(sent).toEqual([0, 2, 1])
  })

  it('stop() sends every waiting refusal at once, and the later ones without delay', () => {
    const spread = new RefusalSpread()
    const sent: number[] = []
    for (let position = 0; position < 3; position++) spread.later(() => sent.push(position), 60_000, 60_000, 0.5)
    spread.stop()
    expect(sent).toEqual([0, 1, 2])
    spread.later(() => sent.push(3), 60_000, 60_000, 0.5)
    expect(sent).toEqual([0, 1, 2, 3])
    expect(spread.pending).toBe(0)
  })
})
