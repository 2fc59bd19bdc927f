import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CsrfTokens, isSameOrigin } from '../../../src/status-page/index.js'

describe('status page CSRF tokens', () => {
  it('a token verifies for its nonce only, and only under the key that issued it', () => {
    const tokens = new CsrfTokens()
    const nonce = tokens.newNonce()
    const token = tokens.tokenFor(nonce)
    expect(tokens.verify(nonce, token)).toBe(true)
    expect(tokens.verify(tokens.newNonce(), token)).toBe(false)
    expect(tokens.verify(undefined, token)).toBe(false)
    expect(tokens.verify(nonce, undefined)).toBe(false)
    expect(new CsrfTokens().verify(nonce, token)).toBe(false)
  })

  it('instances sharing a secret accept each other\'s tokens', () => {
    const secret = 'a'.repeat(32)
    const nonce = new CsrfTokens(secret).newNonce()
    expect(new CsrfTokens(secret).verify(nonce, new CsrfTokens(secret).tokenFor(nonce))).toBe(true)
  })

  it('reads its nonce among other cookies and ignores a malformed one', () => {
    const tokens = new CsrfTokens()
    const nonce = tokens.newNonce()
    expect(tokens.nonceFrom(`a=1; frs-status-csrf=${nonce}; b=2`)).toBe(nonce)
    expect(tokens.nonceFrom('frs-status-csrf=../../etc')).toBeUndefined()
    expect(tokens.nonceFrom(undefined)).toBeUndefined()
  })

  it('never verifies an arbitrary string, nor throws on one', () => {
    const tokens = new CsrfTokens()
    const nonce = tokens.newNonce()
    fc.assert(fc.property(fc.string({ maxLength: 100 }), (token) => {
      expect(tokens.verify(nonce, token)).toBe(token === tokens.tokenFor(nonce))
    }))
  })

  it('accepts same-origin requests and those that send neither header; refuses the rest', () => {
    expect(isSameOrigin({ host: 'ops.local:3000', origin: 'http://ops.local:3000', 'sec-fetch-site': 'same-origin' }, 'http')).toBe(true)
    expect(isSameOrigin({ host: 'ops.local:3000' }, 'http')).toBe(true)
    expect(isSameOrigin({ host: 'ops.local:3000', origin: 'https://ops.local:3000' }, 'http')).toBe(false)
    expect(isSameOrigin({ host: 'ops.local:3000', origin: 'null' }, 'http')).toBe(false)
    expect(isSameOrigin({ host: 'ops.local:3000', 'sec-fetch-site': 'same-site' }, 'http')).toBe(false)
  })
})
