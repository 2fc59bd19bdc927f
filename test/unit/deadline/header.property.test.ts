import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readCallerBudget, readGrpcTimeout, readMillisecondsHeader } from '../../../src/deadline/index.js'
import type { BudgetReading } from '../../../src/deadline/header.js'
import { GRPC_UNITS_MS, PROPERTY_RUNS, anyString, grpcTimeout, headerValue, millisecondsText } from '../../helpers/arbitraries.js'

const anyValue = fc.oneof(anyString, headerValue, fc.array(headerValue, { maxLength: 3 }), fc.constant(undefined))

function isWellFormed (reading: BudgetReading): boolean {
  if (reading.kind === 'invalid') return reading.reason.length > 0
  return reading.kind === 'absent' || (reading.kind === 'valid' && reading.ms >= 0)
}

describe.each([
  ['readMillisecondsHeader', readMillisecondsHeader],
  ['readGrpcTimeout', readGrpcTimeout],
])('%s (properties)', (_name, read) => {
  it('never throws, and answers absent, a non-negative budget, or invalid with a reason', () => {
    fc.assert(fc.property(anyValue, (value) => {
      expect(isWellFormed(read(value))).toBe(true)
    }), PROPERTY_RUNS)
  })

  it('refuses a repeated header, whatever its values', () => {
    fc.assert(fc.property(fc.array(headerValue, { minLength: 2, maxLength: 3 }), (values) => {
      expect(read(values)).toMatchObject({ kind: 'invalid', reason: 'the header is repeated' })
      expect(read(values.join(', '))).toMatchObject({ kind: 'invalid' })
    }), PROPERTY_RUNS)
  })
})

describe('readMillisecondsHeader (properties)', () => {
  it('reads any whole number, however large, as that many milliseconds', () => {
    fc.assert(fc.property(millisecondsText, (text) => {
      expect(readMillisecondsHeader(text)).toEqual({ kind: 'valid', ms: Number(text) })
    }), PROPERTY_RUNS)
  })

  it('refuses any value with a character that is not a digit, with a reason', () => {
    fc.assert(fc.property(millisecondsText, anyString.filter((text) => /[^0-9]/.test(text)), fc.nat(), (digits, noise, at) => {
      const position = at % (digits.length + 1)
      const value = digits.slice(0, position) + noise + digits.slice(position)
      const reading = readMillisecondsHeader(value)
      expect(reading.kind).toBe('invalid')
      expect(reading.kind === 'invalid' ? reading.reason : '').toMatch(/not a whole, non-negative number|repeated/)
    }), PROPERTY_RUNS)
  })
})

describe('readGrpcTimeout (properties)', () => {
  it('reads any value gRPC allows (up to 8 digits and a unit) in milliseconds', () => {
    fc.assert(fc.property(grpcTimeout, ([digits, unit]) => {
      expect(readGrpcTimeout(digits + unit)).toEqual({ kind: 'valid', ms: Number(digits) * GRPC_UNITS_MS[unit] })
    }), PROPERTY_RUNS)
  })

  it('refuses more than 8 digits, a missing or unknown unit, and anything around the value', () => {
    fc.assert(fc.property(grpcTimeout, fc.constantFrom('0', '9'), fc.string({ unit: fc.constantFrom(...'hsdkx '.split('')), minLength: 1, maxLength: 2 }), ([digits, unit], extra, suffix) => {
      const padded = `${digits}${extra.repeat(9 - digits.length)}`
      for (const value of [padded + unit, digits, digits + suffix, ` ${digits}${unit}`, `${digits}${unit}${suffix}`]) {
        expect(readGrpcTimeout(value)).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/not a gRPC timeout|repeated/) })
      }
    }), PROPERTY_RUNS)
  })
})

describe('readCallerBudget (properties)', () => {
  const readers = [
    { name: 'x-request-timeout-ms', read: readMillisecondsHeader },
    { name: 'grpc-timeout', read: readGrpcTimeout },
    { name: 'x-envoy-expected-rq-timeout-ms', read: readMillisecondsHeader },
  ]
  const header = fc.option(fc.oneof(millisecondsText, headerValue), { nil: undefined })

  it('is the smallest valid budget, or names the first malformed header', () => {
    fc.assert(fc.property(header, fc.option(fc.oneof(grpcTimeout.map(([digits, unit]) => digits + unit), headerValue), { nil: undefined }), header, (ms, grpc, envoy) => {
      const headers = { 'x-request-timeout-ms': ms, 'grpc-timeout': grpc, 'x-envoy-expected-rq-timeout-ms': envoy }
      const readings = readers.map((reader) => ({ name: reader.name, reading: reader.read(headers[reader.name as keyof typeof headers]) }))
      const invalid = readings.find((entry) => entry.reading.kind === 'invalid')
      const budget = readCallerBudget(headers, readers)
      if (invalid !== undefined) {
        expect(budget).toMatchObject({ kind: 'invalid', header: invalid.name })
        return
      }
      const valid = readings.flatMap((entry) => entry.reading.kind === 'valid' ? [entry.reading.ms] : [])
      expect(budget).toEqual(valid.length === 0 ? { kind: 'none' } : { kind: 'budget', ms: Math.min(...valid) })
    }), PROPERTY_RUNS)
  })
})
