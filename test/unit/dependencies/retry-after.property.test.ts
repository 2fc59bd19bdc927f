import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseRetryAfter, retryAfterOfError } from '../../../src/dependencies/index.js'
import { PROPERTY_RUNS, headerValue } from '../../helpers/arbitraries.js'

/** A Retry-After a dependency may send: seconds, an HTTP-date, or anything else a header can hold. */
const retryAfter = fc.oneof(
  fc.nat().map(String),
  fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((date) => date.toUTCString()),
  headerValue
)
const now = fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: Date.parse('2090-01-01T00:00:00Z') })

describe('retryAfterOfError (properties)', () => {
  it("reads the same wait as fetch's path from every client shape's error", () => {
    fc.assert(fc.property(retryAfter, now, (value, nowMs) => {
      const expected = parseRetryAfter(value, nowMs)
      const record = { 'retry-after': value }
      expect(retryAfterOfError({ response: { statusCode: 503, headers: record } }, nowMs)).toBe(expected)
      expect(retryAfterOfError({ statusCode: 503, headers: record }, nowMs)).toBe(expected)
      expect(retryAfterOfError({ response: { status: 503, headers: new Headers(record) } }, nowMs)).toBe(expected)
    }), PROPERTY_RUNS)
  })
})
