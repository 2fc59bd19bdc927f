import { describe, expect, it } from 'vitest'
import { atEndOfTurn } from '../../src/end-of-turn.js'

const endOfTurn = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

describe('atEndOfTurn', () => {
  it('runs the tasks of a turn once, in order, at its end, from one immediate', async () => {
    const ran: string[] = []
    const immediates: string[] = []
    const original = globalThis.setImmediate
    const counting = ((...args: Parameters<typeof setImmediate>) => {
      immediates.push('scheduled')
      return original(...args)
    }) as typeof setImmediate
    globalThis.setImmediate = counting
    try {
      atEndOfTurn(() => ran.push('a'))
      await Promise.resolve()
      atEndOfTurn(() => ran.push('b'))
    } finally {
      globalThis.setImmediate = original
    }
    expect(ran).toEqual([])
    expect(immediates).toHaveLength(1)
    await endOfTurn()
    expect(ran).toEqual(['a', 'b'])
    await endOfTurn()
    expect(ran).toEqual(['a', 'b'])
  })

  it('a task deferred while the tasks run waits for the next turn', async () => {
    const ran: string[] = []
    atEndOfTurn(() => {
      ran.push('first')
      atEndOfTurn(() => ran.push('later'))
    })
    await endOfTurn()
    expect(ran).toEqual(['first'])
    await endOfTurn()
    expect(ran).toEqual(['first', 'later'])
  })
})
