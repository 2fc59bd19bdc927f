import { describe, expect, it } from 'vitest'
import { MAX_CALLER_BUDGET_MS, readGrpcTimeout, readMillisecondsHeader } from '../../../src/deadline/index.js'

describe('readMillisecondsHeader', () => {
  it.each([
    ['0', 0],
    ['250', 250],
    ['007', 7],
    [String(MAX_CALLER_BUDGET_MS), MAX_CALLER_BUDGET_MS],
  ])('reads %j as %i ms', (value, ms) => {
    expect(readMillisecondsHeader(value)).toEqual({ kind: 'valid', ms })
  })

  it('an absent header is absent', () => {
    expect(readMillisecondsHeader(undefined)).toEqual({ kind: 'absent' })
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
    [String(MAX_CALLER_BUDGET_MS + 1), /more than one day/],
    ['99999999999', /more than one day/],
    ['1'.repeat(17), /longer than 16 characters/],
    ['1'.repeat(100_000), /longer than 16 characters/],
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
    ['24H', MAX_CALLER_BUDGET_MS],
  ])('reads %j as %d ms', (value, ms) => {
    expect(readGrpcTimeout(value)).toEqual({ kind: 'valid', ms })
  })

  it.each([
    ['100', /not a gRPC timeout/],
    ['100s', /not a gRPC timeout/],
    ['123456789m', /not a gRPC timeout/],
    ['-1S', /not a gRPC timeout/],
    ['25H', /more than one day/],
    ['1S, 2S', /repeated/],
    ['', /empty/],
  ])('refuses %j', (value, reason) => {
    const reading = readGrpcTimeout(value)
    expect(reading.kind === 'invalid' ? reading.reason : 'valid').toMatch(reason)
  })
})
