import { describe, expect, it } from 'vitest'
import { MAX_KEY_LENGTH, canonicalJson, readIdempotencyKey, requestFingerprint } from '../../src/idempotency/index.js'

describe('readIdempotencyKey', () => {
  it.each([
    ['"8e03978e-40d5-43e8-bc93-6894a57f9324"', '8e03978e-40d5-43e8-bc93-6894a57f9324'],
    ['8e03978e-40d5-43e8-bc93-6894a57f9324', '8e03978e-40d5-43e8-bc93-6894a57f9324'],
    ['"with space and \\"quotes\\" and \\\\"', 'with space and "quotes" and \\'],
    ['order:42/retry', 'order:42/retry'],
    ['1starts-with-digit', '1starts-with-digit'],
    ['YmFzZTY0Lw==', 'YmFzZTY0Lw=='],
    [`"${'k'.repeat(MAX_KEY_LENGTH)}"`, 'k'.repeat(MAX_KEY_LENGTH)],
  ])('reads %s', (header, key) => {
    expect(readIdempotencyKey(header)).toEqual({ kind: 'valid', key })
  })

  it('an absent header is absent', () => {
    expect(readIdempotencyKey(undefined)).toEqual({ kind: 'absent' })
  })

  it.each([
    ['', /empty/],
    ['""', /empty/],
    ['"unterminated', /not a valid structured-field string/],
    ['"bad \\n escape"', /not a valid structured-field string/],
    ['"tab\tinside"', /not a valid structured-field string/],
    ['"caf\u00e9"', /not a valid structured-field string/],
    ['two words', /neither a quoted string nor a token/],
    ['back\\slash', /neither a quoted string nor a token/],
    ['a, b', /neither a quoted string nor a token/],
    [`"${'k'.repeat(MAX_KEY_LENGTH + 1)}"`, /longer than 255/],
    ['k'.repeat(MAX_KEY_LENGTH + 1), /longer than 255/],
    ['k'.repeat(100_000), /longer than 255/],
    [['a', 'b'], /repeated/],
  ])('refuses %j', (header, reason) => {
    const reading = readIdempotencyKey(header)
    expect(reading.kind === 'invalid' ? reading.reason : 'valid').toMatch(reason)
  })
})

describe('request fingerprints', () => {
  it('key order in a JSON body does not matter, values do', () => {
    const a = requestFingerprint({ method: 'POST', route: '/orders', body: { sku: 7, qty: 1, meta: { b: 2, a: 1 } } })
    const b = requestFingerprint({ method: 'post', route: '/orders', body: { meta: { a: 1, b: 2 }, qty: 1, sku: 7 } })
    const c = requestFingerprint({ method: 'POST', route: '/orders', body: { sku: 7, qty: 2, meta: { a: 1, b: 2 } } })
    expect(a).toBe(b)
    expect(a).not.toBe(c)
  })

  it('method, route and content type are part of the fingerprint, one request after another', () => {
    const base = { method: 'POST', route: '/orders', body: { sku: 7 } }
    expect(requestFingerprint(base)).not.toBe(requestFingerprint({ ...base, method: 'PATCH' }))
    expect(requestFingerprint(base)).not.toBe(requestFingerprint({ ...base, route: '/refunds' }))
    expect(requestFingerprint(base)).not.toBe(requestFingerprint({ ...base, contentType: 'text/plain' }))
    expect(requestFingerprint({ ...base, contentType: 'application/json' })).not.toBe(requestFingerprint({ ...base, contentType: 'text/plain' }))
  })

  it('a string body, a binary body and a JSON body never collide', () => {
    const route = { method: 'POST', route: '/x' }
    const fingerprints = new Set([
      requestFingerprint({ ...route, body: '{"a":1}' }),
      requestFingerprint({ ...route, body: Buffer.from('{"a":1}') }),
      requestFingerprint({ ...route, body: { a: 1 } }),
      requestFingerprint({ ...route, body: undefined }),
    ])
    expect(fingerprints.size).toBe(4)
  })

  it('canonical JSON sorts keys at every level and drops undefined members', () => {
    expect(canonicalJson({ b: [{ d: 1, c: undefined, a: null }], a: 'x' })).toBe('{"a":"x","b":[{"a":null,"d":1}]}')
  })
})
