import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { carriesBody } from '../src/payload.js'
import { PROPERTY_RUNS, headerValue } from './helpers/arbitraries.js'

describe('carriesBody (properties)', () => {
  it('is true for any Content-Length of one byte or more, written as Node accepts it', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: 3 }), (length, zeros) => {
      expect(carriesBody({ 'content-length': '0'.repeat(zeros) + String(length) })).toBe(true)
    }), PROPERTY_RUNS)
  })

  it('is false for no Content-Length and for zero, however many digits', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), (digits) => {
      expect(carriesBody({ 'content-length': '0'.repeat(digits) })).toBe(false)
    }), PROPERTY_RUNS)
    expect(carriesBody({})).toBe(false)
  })

  it('is true whenever a Transfer-Encoding is given, whatever the Content-Length', () => {
    fc.assert(fc.property(headerValue, fc.option(fc.constantFrom('0', '12'), { nil: undefined }), (encoding, length) => {
      expect(carriesBody({ 'transfer-encoding': encoding, 'content-length': length })).toBe(true)
    }), PROPERTY_RUNS)
  })

  it('never throws, whatever the headers hold', () => {
    fc.assert(fc.property(fc.dictionary(fc.constantFrom('content-length', 'transfer-encoding', 'content-type'), fc.oneof(headerValue, fc.array(headerValue, { maxLength: 2 }))), (headers) => {
      expect(typeof carriesBody(headers)).toBe('boolean')
    }), PROPERTY_RUNS)
  })
})
