import { describe, expect, it } from 'vitest'
import { readGrpcTimeout, readMillisecondsHeader } from '../../../src/deadline/index.js'

describe('readMillisecondsHeader', () => {
  it.each([
    ['0', 0],
    ['250', 250],
    ['007', 7],
    ['86400000', 86_400_000],
    // Longer than any deadline this server holds: valid, and it shortens nothing.
    ['86400001', 86_400_001],
    ['99999999999999', 99_999_999_999_999],
  ])('reads %j as %d ms', (value, ms) => {
    expect(readMillisecondsHeader(value)).toEqual({ kind: 'valid', ms })
  })

  it('an absent header is absent', () => {
    expect(readMillisecondsHeader(undefined)).toEqual({ kind: 'absent' })
  })

  it('a number of any length is a budget, one too long for a double an infinite one; digits then garbage are not', () => {
    expect(readMillisecondsHeader('9'.repeat(400))).toEqual({ kind: 'valid', ms: Number.POSITIVE_INFINITY })
    expect(readMillisecondsHeader('1'.repeat(100_000))).toEqual({ kind: 'valid', ms: Number.POSITIVE_INFINITY })
    expect(readMillisecondsHeader(`${'1'.repeat(100_000)} `)).toMatchObject({ kind: 'invalid', reason: expect.stringMatching(/not a whole, non-negative number/) })
  })

  it.each([
    ['', /empty/],
    ['-5', /not a whole, non-negative number/],
    ['1.5', /not a whole, non-negative number/],
    ['1e3', /not a whole, non-negative number/],
    [' 100', /not a whole, non-negative number/],
    ['100 ', /not a whole, non-negative number/],
    ['0x10', /not a whole, non-negative number/],
    ['abc', /not a whole, non-negative number/],
    ['100ms', /not a whole, non-negative number/],
    ['100, 200', /repeated/],
    [['100', '200'], /repeated/],
    ['Infinity', /not a whole, non-negative number/],
    ['\u0661\u0662', /not a whole, non-negative number/],
  ])('refuses %j', (value, reason) => {
    const reading = readMillisecondsHeader(value)
    expect(reading.kind).toBe('invalid')
    expect(reading.kind === 'invalid' ? reading.reason : '').toMatch(reason)
  })
})

describe('readGrpcTimeout', () => {
  it.each([
    ['100m', 100],
    ['2S', 2000],
    ['1M', 60_000],
    ['1H', 3_600_000],
    ['1500u', 1.5],
    ['2000000n', 2],
    ['24H', 86_400_000],
    ['25H', 90_000_000],
    ['99999999H', 99_999_999 * 3_600_000],
    ['00000000n', 0],
  ])('reads %j as %d ms', (value, ms) => {
    expect(readGrpcTimeout(value)).toEqual({ kind: 'valid', ms })
  })

  it.each([
    ['100', /not a gRPC timeout/],
    ['100s', /not a gRPC timeout/],
    ['123456789m', /not a gRPC timeout/],
    ['-1S', /not a gRPC timeout/],
    ['999999999H', /not a gRPC timeout/],
    ['1h', /not a gRPC timeout/],
    ['1.5S', /not a gRPC timeout/],
    ['1S, 2S', /repeated/],
    ['', /empty/],
  ])('refuses %j', (value, reason) => {
    const reading = readGrpcTimeout(value)
    expect(reading.kind === 'invalid' ? reading.reason : 'valid').toMatch(reason)
  })
})
