import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PRIORITIES, PRIORITY_RANK, WaitingLine } from '../../../src/load-shedding/index.js'
import type { Priority, Waiter } from '../../../src/load-shedding/index.js'
import { PROPERTY_RUNS } from '../../helpers/arbitraries.js'

/*
 * The line against a model: one array per class in arrival order. Every
 * operation the admission controller uses, in any order, leaves the line
 * serving the same waiter first and counting the same size as the model.
 */

type Operation =
  | { kind: 'push', priority: Priority, expiresAt: number }
  | { kind: 'shift' }
  | { kind: 'remove', pick: number }
  | { kind: 'evictBelow', priority: Priority }
  | { kind: 'takeExpired', now: number }

const priority = fc.constantFrom(...PRIORITIES)
const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), priority, expiresAt: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ kind: fc.constant('shift' as const) }),
  fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('evictBelow' as const), priority }),
  fc.record({ kind: fc.constant('takeExpired' as const), now: fc.integer({ min: 0, max: 100 }) })
)

function waiter (priority: Priority, expiresAt: number): Waiter {
  return { priority, expiresAt, expiryReason: 'queue-timeout', grant: () => {}, shed: () => {} }
}

/** The model's first waiter: the oldest of the highest class present. */
function modelFirst (model: Waiter[][]): Waiter | undefined {
  for (let rank = 3; rank >= 0; rank--) if ((model[rank]?.length ?? 0) > 0) return model[rank]?.[0]
  return undefined
}

function apply (line: WaitingLine, model: Waiter[][], op: Operation): void {
  switch (op.kind) {
    case 'push': {
      const added = waiter(op.priority, op.expiresAt)
      line.push(added)
      model[PRIORITY_RANK[op.priority]]?.push(added)
      return
    }
    case 'shift': {
      const first = modelFirst(model)
      expect(line.shift()).toBe(first)
      if (first !== undefined) model[PRIORITY_RANK[first.priority]]?.shift()
      return
    }
    case 'remove': {
      const everyone = model.flat()
      const chosen = everyone[op.pick % Math.max(1, everyone.length)]
      if (chosen === undefined) return
      expect(line.remove(chosen)).toBe(true)
      const own = model[PRIORITY_RANK[chosen.priority]] ?? []
      own.splice(own.indexOf(chosen), 1)
      expect(line.remove(chosen)).toBe(false)
      return
    }
    case 'evictBelow': {
      const rank = model.findIndex((own, index) => index < PRIORITY_RANK[op.priority] && own.length > 0)
      expect(line.evictBelow(op.priority)).toBe(rank === -1 ? undefined : model[rank]?.pop())
      return
    }
    case 'takeExpired': {
      const expired = model.flatMap((own) => own.filter((each) => each.expiresAt <= op.now))
      expect(line.takeExpired(op.now)).toEqual(expired)
      for (const own of model) own.splice(0, own.length, ...own.filter((each) => each.expiresAt > op.now))
    }
  }
}

describe('WaitingLine (properties)', () => {
  it('serves the oldest waiter of the highest class and counts its size, after any sequence of operations', () => {
    fc.assert(fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
      const line = new WaitingLine()
      const model: Waiter[][] = [[], [], [], []]
      for (const op of operations) {
        apply(line, model, op)
        expect(line.peek()).toBe(modelFirst(model))
        expect(line.size).toBe(model.flat().length)
        for (const each of PRIORITIES) {
          expect(line.countAtOrAbove(each)).toBe(model.slice(PRIORITY_RANK[each]).flat().length)
        }
      }
    }), PROPERTY_RUNS)
  })
})
