import fc from 'fast-check'
import { hash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { derivedIdempotencyKey } from '../../src/dependencies/derived-key.js'
import { requestFingerprint } from '../../src/idempotency/fingerprint.js'
import { scopedStoreKey } from '../../src/idempotency/scoped-key.js'
import { textHash } from '../../src/text-hash.js'
import { PROPERTY_RUNS } from '../helpers/arbitraries.js'

// Short strings over a few code units, lone surrogates of both halves among
// them, so that pairs which UTF-8 would write alike come up often.
const surrogateHeavy = fc.string({ unit: fc.constantFrom('a', '\ud800', '\udbff', '\udc00', '\udfff', '\ufffd', '\ud83d\ude00'), maxLength: 4 })

describe('text hashes (properties)', () => {
  it('are equal exactly when the strings are, lone surrogates included', () => {
    fc.assert(fc.property(surrogateHeavy, surrogateHeavy, (a, b) => {
      expect(textHash(a) === textHash(b)).toBe(a === b)
    }), PROPERTY_RUNS)
  })

  it('are the SHA-256 of the UTF-8 text for every string UTF-8 can hold, as stored keys and fingerprints were', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
      expect(textHash(text)).toBe(hash('sha256', text, 'base64url'))
    }), PROPERTY_RUNS)
  })

  it('keep apart the fingerprints, store keys and derived call keys of inputs that differ only in a lone surrogate', () => {
    fc.assert(fc.property(surrogateHeavy, surrogateHeavy, (a, b) => {
      fc.pre(a !== b)
      expect(requestFingerprint({ method: 'POST', route: '/x', contentType: 'application/json', body: a })).not.toBe(requestFingerprint({ method: 'POST', route: '/x', contentType: 'application/json', body: b }))
      expect(scopedStoreKey(a, 'POST', '/x', 'k')).not.toBe(scopedStoreKey(b, 'POST', '/x', 'k'))
      expect(derivedIdempotencyKey(a, 'payments', 'POST /charges', 0)).not.toBe(derivedIdempotencyKey(b, 'payments', 'POST /charges', 0))
    }), PROPERTY_RUNS)
  })
})
