import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { MemoryIdempotencyStore, RedisErrorBudgetFleet, RedisIdempotencyStore } from '../../plugins/index.js'
import { PROPERTY_RUNS } from '../helpers/arbitraries.js'
import { ManualClock } from '../helpers/manual-clock.js'

/*
 * The public constructors check their options as the plugins do: from
 * JavaScript, where the option types do not reach, a key they do not know
 * is refused with FRS_ERR_OPTION_UNKNOWN naming the known ones, instead of
 * being dropped without a word.
 */

// Never connects: the constructors only look at the client's shape.
const client = new Redis({ lazyConnect: true })
afterAll(() => { client.disconnect() })

interface Subject {
  name: string
  known: readonly string[]
  /** Options it accepts, to which the unknown key is added. */
  valid: () => Record<string, unknown>
  build: (options: unknown) => unknown
}

const SUBJECTS: Subject[] = [
  { name: 'MemoryIdempotencyStore', known: ['maxEntries', 'maxBytes', 'clock'], valid: () => ({ maxEntries: 5, maxBytes: 1000, clock: new ManualClock() }), build: (options) => new MemoryIdempotencyStore(options as never) },
  { name: 'RedisIdempotencyStore', known: ['client', 'prefix'], valid: () => ({ client, prefix: 'x:' }), build: (options) => new RedisIdempotencyStore(options as never) },
  { name: 'RedisErrorBudgetFleet', known: ['client', 'prefix', 'clock', 'flushIntervalMs'], valid: () => ({ client, prefix: 'x:', clock: new ManualClock(), flushIntervalMs: 1000 }), build: (options) => new RedisErrorBudgetFleet(options as never) },
]

function unknownKeyMessage (subject: Subject, key: string): string {
  return `fastify-resilience: unknown option '${key}' in ${subject.name} options; expected one of: ${subject.known.join(', ')}`
}

describe('public constructors refuse options they do not know', () => {
  for (const subject of SUBJECTS) {
    it(`${subject.name} accepts the options it knows`, () => {
      expect(() => subject.build(subject.valid())).not.toThrow()
    })

    it(`${subject.name} refuses any key it does not know, naming the key and the known ones`, () => {
      fc.assert(fc.property(
        fc.string({ maxLength: 24 }).filter((key) => !subject.known.includes(key)),
        fc.anything(),
        fc.subarray([...subject.known]),
        (key, value, kept) => {
          const valid = subject.valid()
          // Any of the known options beside it, the required ones always.
          const options = Object.fromEntries([
            ...Object.entries(valid).filter(([name]) => name === 'client' || kept.includes(name)),
            [key, value],
          ])
          let thrown: unknown
          try {
            subject.build(options)
          } catch (error) {
            thrown = error
          }
          expect(thrown).toBeInstanceOf(TypeError)
          expect(thrown).toMatchObject({ code: 'FRS_ERR_OPTION_UNKNOWN', message: unknownKeyMessage(subject, key) })
        }
      ), PROPERTY_RUNS)
    })

    it(`${subject.name} refuses options that are not an object`, () => {
      fc.assert(fc.property(fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.boolean(), fc.array(fc.anything(), { maxLength: 3 })), (options) => {
        expect(() => subject.build(options)).toThrow(expect.objectContaining({ code: 'FRS_ERR_OPTION_INVALID', message: expect.stringContaining(`option '${subject.name} options' expects an object`) as string }))
      }), PROPERTY_RUNS)
    })
  }
})

describe('the typos a user made, refused by name', () => {
  it('RedisErrorBudgetFleet refuses `now`, which `clock` replaced, instead of counting on the default clock', () => {
    expect(() => new RedisErrorBudgetFleet({ client, now: () => 1 } as never))
      .toThrow("unknown option 'now' in RedisErrorBudgetFleet options; expected one of: client, prefix, clock, flushIntervalMs")
  })

  it('RedisIdempotencyStore refuses a misspelt prefix (prefx), instead of keeping keys under the default prefix', () => {
    expect(() => new RedisIdempotencyStore({ client, prefx: 'x' } as never))
      .toThrow("unknown option 'prefx' in RedisIdempotencyStore options; expected one of: client, prefix")
  })

  it('MemoryIdempotencyStore refuses a misspelt maxEntries (maxEntires), instead of holding 10,000 keys', () => {
    expect(() => new MemoryIdempotencyStore({ maxEntires: 5 } as never))
      .toThrow("unknown option 'maxEntires' in MemoryIdempotencyStore options; expected one of: maxEntries, maxBytes, clock")
  })
})

describe('the values of the constructors\' options', () => {
  it('MemoryIdempotencyStore takes maxEntries from 1 to 2^24 (what a Map holds) and a clock with now()', () => {
    for (const maxEntries of [0, -1, 1.5, '5', Number.NaN, Infinity, 2 ** 24 + 1]) {
      expect(() => new MemoryIdempotencyStore({ maxEntries } as never)).toThrow(expect.objectContaining({ code: 'FRS_ERR_OPTION_INVALID', message: expect.stringContaining("option 'MemoryIdempotencyStore maxEntries' expects an integer from 1 to 16777216") as string }))
    }
    expect(() => new MemoryIdempotencyStore({ clock: () => 1 } as never)).toThrow("option 'MemoryIdempotencyStore clock' expects an object with a now() method")
    expect(() => new MemoryIdempotencyStore({ maxEntries: 2 ** 24 })).not.toThrow()
    for (const maxBytes of [0, -1, 1.5, '5', Number.NaN, Infinity]) {
      expect(() => new MemoryIdempotencyStore({ maxBytes } as never)).toThrow(expect.objectContaining({ code: 'FRS_ERR_OPTION_INVALID', message: expect.stringContaining("option 'MemoryIdempotencyStore maxBytes' expects a whole number of bytes from 1") as string }))
    }
    expect(() => new MemoryIdempotencyStore()).not.toThrow()
  })

  it('a store of maxEntries 1 still holds its one key', async () => {
    const store = new MemoryIdempotencyStore({ maxEntries: 1, clock: new ManualClock() })
    expect(await store.claim('a', 'fp', 'o', 1000)).toEqual({ kind: 'acquired' })
    expect(store.size).toBe(1)
  })

  it('RedisErrorBudgetFleet and RedisIdempotencyStore take a prefix that is a string', () => {
    expect(() => new RedisErrorBudgetFleet({ client, prefix: 5 } as never)).toThrow("option 'RedisErrorBudgetFleet prefix' expects a string")
    expect(() => new RedisIdempotencyStore({ client, prefix: 5 } as never)).toThrow("option 'RedisIdempotencyStore prefix' expects a string")
  })
})
