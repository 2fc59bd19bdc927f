import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_KEY_LENGTH, readIdempotencyKey } from '../../src/idempotency/index.js'
import { PROPERTY_RUNS, anyString, bareIdempotencyKey, headerValue, idempotencyKey, quoteKey } from '../helpers/arbitraries.js'

describe('readIdempotencyKey (properties)', () => {
  it('never throws, and a refusal always has a reason', () => {
    fc.assert(fc.property(fc.oneof(anyString, headerValue, fc.array(headerValue, { maxLength: 3 }), fc.constant(undefined)), (value) => {
      const reading = readIdempotencyKey(value)
      if (reading.kind === 'invalid') expect(reading.reason.length).toBeGreaterThan(0)
      if (reading.kind === 'valid') expect(reading.key.length).toBeGreaterThan(0)
    }), PROPERTY_RUNS)
  })

  it('reads back any key of printable ASCII sent as a structured-field string', () => {
    fc.assert(fc.property(idempotencyKey, (key) => {
      expect(readIdempotencyKey(quoteKey(key))).toEqual({ kind: 'valid', key })
    }), PROPERTY_RUNS)
  })

  it('a bare token key and its quoted form are the same key', () => {
    fc.assert(fc.property(bareIdempotencyKey, (key) => {
      expect(readIdempotencyKey(key)).toEqual({ kind: 'valid', key })
      expect(readIdempotencyKey(quoteKey(key))).toEqual({ kind: 'valid', key })
    }), PROPERTY_RUNS)
  })

  it('refuses a key over 255 characters, quoted or not', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('a', 'Z', '9', '-'), minLength: MAX_KEY_LENGTH + 1, maxLength: 600 }), (key) => {
      expect(readIdempotencyKey(key)).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/longer than 255/) })
      expect(readIdempotencyKey(quoteKey(key))).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/longer than 255/) })
    }), PROPERTY_RUNS)
  })

  it('refuses any key with a character outside printable ASCII', () => {
    const outside = fc.integer({ min: 0, max: 0xffff }).filter((code) => code < 0x20 || code > 0x7e).map((code) => String.fromCharCode(code))
    fc.assert(fc.property(idempotencyKey, outside, fc.nat(), (key, character, at) => {
      const position = at % (key.length + 1)
      const bad = key.slice(0, position) + character + key.slice(position)
      expect(readIdempotencyKey(quoteKey(bad)).kind).toBe('invalid')
      expect(readIdempotencyKey(bad).kind).toBe('invalid')
    }), PROPERTY_RUNS)
  })
})
