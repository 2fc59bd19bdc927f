import { errors } from 'undici'
import { describe, expect, it } from 'vitest'
import { parseRetryAfter, retryAfterOfError } from '../../../src/dependencies/index.js'

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')

  it('reads whole seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
  })

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000)
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0)
  })

  it('caps a wait longer than an hour', () => {
    expect(parseRetryAfter('999999', now)).toBe(3_600_000)
  })

  it('ignores absent and malformed values', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined()
    expect(parseRetryAfter('', now)).toBeUndefined()
    expect(parseRetryAfter('-1', now)).toBeUndefined()
    expect(parseRetryAfter('1.5', now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
  })
})

describe('retryAfterOfError', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')

  it("reads the Retry-After of got's, undici's, axios's and a fetch Response's errors", () => {
    // got's HTTPError: Node's lower-cased header record on `response`.
    expect(retryAfterOfError({ response: { statusCode: 503, headers: { 'retry-after': '2' } } }, now)).toBe(2000)
    // undici's ResponseError (its responseError interceptor): `statusCode` and `headers` on the error.
    expect(retryAfterOfError(new errors.ResponseError('Response Error', 503, { headers: { 'retry-after': '3' }, body: '' }), now)).toBe(3000)
    // axios: `response.status` and AxiosHeaders, which have `get`.
    const axiosHeaders = { 'retry-after': '4', get (name: string) { return (this as unknown as Record<string, string>)[name] } }
    expect(retryAfterOfError({ response: { status: 503, headers: axiosHeaders } }, now)).toBe(4000)
    // A fetch Response on the error (ky's HTTPError), in any case and as an HTTP-date.
    expect(retryAfterOfError({ response: new Response(null, { status: 503, headers: { 'Retry-After': 'Thu, 01 Jan 2026 00:00:05 GMT' } }) }, now)).toBe(5000)
  })

  it('answers undefined without a readable Retry-After', () => {
    expect(retryAfterOfError(new Error('ECONNRESET'), now)).toBeUndefined()
    expect(retryAfterOfError({ response: null }, now)).toBeUndefined()
    expect(retryAfterOfError({ headers: { 'retry-after': ['1', '2'] } }, now)).toBeUndefined()
    expect(retryAfterOfError({ response: { headers: { 'retry-after': 'soon' } } }, now)).toBeUndefined()
    expect(retryAfterOfError('503', now)).toBeUndefined()
  })
})
