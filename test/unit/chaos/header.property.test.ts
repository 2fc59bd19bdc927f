import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseRequestedFault, signFault, verifyFaultSignature } from '../../../src/chaos/index.js'
import { PROPERTY_RUNS, anyString, formatFault, headerValue, requestedFault } from '../../helpers/arbitraries.js'

const NOW = 1_700_000_000_000
const HOUR = 3_600_000
/** The latest expiry a signed request may carry, or none for a caller authorised otherwise. */
const latestExpiry = fc.option(fc.integer({ min: NOW - HOUR, max: NOW + 86_400_000 }), { nil: undefined })
const SECRET = 'a-secret-of-sixteen-or-more'
const maxRate = fc.double({ min: 0, max: 1, noNaN: true })

describe('parseRequestedFault (properties)', () => {
  it('never throws on any value: a fault or nothing', () => {
    fc.assert(fc.property(fc.oneof(anyString, headerValue), maxRate, latestExpiry, (value, cap, latest) => {
      const fault = parseRequestedFault(value, cap, NOW, latest)
      if (fault !== undefined) expect(fault.rate).toBeLessThanOrEqual(cap)
    }), PROPERTY_RUNS)
  })

  it('reads back any well-formed request, its rate capped at maxRate', () => {
    fc.assert(fc.property(requestedFault, maxRate, fc.integer({ min: 1, max: 86_400_000 }), (fields, cap, ahead) => {
      const fault = parseRequestedFault(formatFault({ ...fields, expires: NOW + ahead }), cap, NOW, NOW + 86_400_000)
      expect(fault).toMatchObject({ type: fields.type, rate: Math.min(cap, 'rate' in fields ? fields.rate : 1) })
      if ('status' in fields) expect(fault?.status).toBe(fields.status)
      if ('message' in fields) expect(fault?.message).toBe(fields.message)
      if ('ms' in fields) expect(fault?.delayMs(Math.random)).toBe(fields.ms)
    }), PROPERTY_RUNS)
  })

  it('refuses a request that has expired, or that must expire and does not say when', () => {
    fc.assert(fc.property(requestedFault, fc.integer({ min: 0, max: 86_400_000 }), (fields, ago) => {
      expect(parseRequestedFault(formatFault({ ...fields, expires: NOW - ago }), 1, NOW, undefined)).toBeUndefined()
      expect(parseRequestedFault(formatFault(fields), 1, NOW, NOW + HOUR)).toBeUndefined()
    }), PROPERTY_RUNS)
  })

  it('refuses a request that must expire by a time and expires later, however far; a caller authorised otherwise may set any future expiry', () => {
    const beyond = fc.oneof(fc.integer({ min: 1, max: 10 * 365 * 86_400_000 }), fc.constantFrom(1e20 - NOW, Number.MAX_VALUE, Number.POSITIVE_INFINITY))
    fc.assert(fc.property(requestedFault, fc.integer({ min: 1, max: 86_400_000 }), beyond, (fields, horizon, past) => {
      const latest = NOW + horizon
      const at = (expires: number): string => formatFault({ ...fields, expires })
      expect(parseRequestedFault(at(latest), 1, NOW, latest)).toBeDefined()
      expect(parseRequestedFault(at(latest + past), 1, NOW, latest)).toBeUndefined()
      expect(parseRequestedFault(at(latest + past), 1, NOW, undefined)).toBeDefined()
    }), PROPERTY_RUNS)
  })

  it('refuses a request with a field it does not know', () => {
    fc.assert(fc.property(requestedFault, fc.constantFrom('speed', 'constructor', '__proto__', 'toString', 'Rate', 'match'), (fields, key) => {
      expect(parseRequestedFault(`${formatFault(fields)};${key}=1`, 1, NOW, undefined)).toBeUndefined()
    }), PROPERTY_RUNS)
  })
})

describe('fault signatures (properties)', () => {
  it('verify their own value and no other, and never throw on any signature', () => {
    fc.assert(fc.property(headerValue, headerValue, fc.oneof(anyString, headerValue), (value, other, signature) => {
      expect(verifyFaultSignature(value, signFault(value, SECRET), SECRET)).toBe(true)
      if (other !== value) expect(verifyFaultSignature(other, signFault(value, SECRET), SECRET)).toBe(false)
      expect(verifyFaultSignature(value, signature, SECRET)).toBe(false)
    }), PROPERTY_RUNS)
  })

  it('accept the 64 hex digits in any case, and nothing before or after them', () => {
    const caseOf = fc.array(fc.boolean(), { minLength: 64, maxLength: 64 })
    const extra = fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'.split('')), minLength: 1, maxLength: 8 }), fc.string({ minLength: 1, maxLength: 16 }), anyString.filter((text) => text !== ''), fc.constantFrom('0', 'zz-anything', ', junk', ' ', '\t'))
    fc.assert(fc.property(headerValue, caseOf, extra, (value, upper, junk) => {
      const signature = signFault(value, SECRET)
      const recased = [...signature].map((digit, index) => upper[index] === true ? digit.toUpperCase() : digit).join('')
      expect(verifyFaultSignature(value, recased, SECRET)).toBe(true)
      // Each of these decodes to the signature's bytes with a lenient hex reader.
      expect(verifyFaultSignature(value, signature + junk, SECRET)).toBe(false)
      expect(verifyFaultSignature(value, junk + signature, SECRET)).toBe(false)
      expect(verifyFaultSignature(value, `${signature}, ${signature}`, SECRET)).toBe(false)
      // An odd digit short, or a byte short: never the signature.
      expect(verifyFaultSignature(value, signature.slice(0, 63), SECRET)).toBe(false)
      expect(verifyFaultSignature(value, signature.slice(0, 62), SECRET)).toBe(false)
    }), PROPERTY_RUNS)
  })
})
