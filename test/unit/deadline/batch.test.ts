import { describe, expect, it } from 'vitest'
import { EndOfTurnBatch } from '../../../src/deadline/index.js'

describe('EndOfTurnBatch', () => {
  it('hands over everything added during a turn, once, at its end', async () => {
    const batches: number[][] = []
    let current: number[] = []
    const batch = new EndOfTurnBatch<number>((item) => { current.push(item) })
    const flushed = (): void => { batches.push(current); current = [] }
    batch.add(1)
    batch.add(2)
    await Promise.resolve()
    batch.add(3)
    expect(current).toEqual([])
    await new Promise((resolve) => setImmediate(resolve))
    flushed()
    batch.add(4)
    await new Promise((resolve) => setImmediate(resolve))
    flushed()
    expect(batches).toEqual([[1, 2, 3], [4]])
  })
})
