import { Buffer } from 'node:buffer'
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** Name of the cookie holding the browser's CSRF nonce; its path is the page's. */
export const CSRF_COOKIE = 'frs-status-csrf'
/** Header an action must carry the page's token in. */
export const CSRF_HEADER = 'x-csrf-token'

const NONCE = /^[0-9a-f]{32}$/

/**
 * CSRF tokens bound to a browser: the page sets a random nonce in an
 * HttpOnly, SameSite=Strict cookie and embeds HMAC(key, nonce) in the page;
 * an action must send the cookie and that token in a header. Another site
 * can neither read the token (same-origin policy) nor send the header
 * without a CORS preflight, which the page's routes never answer.
 */
export class CsrfTokens {
  readonly #key: Buffer

  /** `secret`: shared by instances behind one load balancer; a random key per process otherwise. */
  constructor (secret?: string) {
    this.#key = secret === undefined ? randomBytes(32) : Buffer.from(secret)
  }

  /** The nonce in a Cookie header, when it holds a well-formed one. */
  nonceFrom (cookieHeader: string | undefined): string | undefined {
    if (cookieHeader === undefined) return undefined
    for (const part of cookieHeader.split(';')) {
      const separator = part.indexOf('=')
      if (separator === -1 || part.slice(0, separator).trim() !== CSRF_COOKIE) continue
      const value = part.slice(separator + 1).trim()
      return NONCE.test(value) ? value : undefined
    }
    return undefined
  }

  newNonce (): string {
    return randomBytes(16).toString('hex')
  }

  tokenFor (nonce: string): string {
    return createHmac('sha256', this.#key).update(nonce).digest('base64url')
  }

  /** Whether `token` was issued for `nonce` by this key; compared in constant time. */
  verify (nonce: string | undefined, token: unknown): boolean {
    if (nonce === undefined || typeof token !== 'string' || token.length > 64) return false
    const expected = Buffer.from(this.tokenFor(nonce))
    const received = Buffer.from(token)
    return expected.length === received.length && timingSafeEqual(expected, received)
  }

  /** The Set-Cookie value for a nonce: HttpOnly, SameSite=Strict, scoped to the page's path. */
  cookie (nonce: string, path: string, secure: boolean): string {
    return `${CSRF_COOKIE}=${nonce}; Path=${path}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`
  }
}

/**
 * Whether a state-changing request comes from the page's own origin:
 * `Sec-Fetch-Site`, when the browser sends it, must be `same-origin`, and
 * `Origin`, when sent, must name this host. The token check comes on top.
 */
export function isSameOrigin (headers: { origin?: string | undefined, host?: string | undefined, 'sec-fetch-site'?: string | undefined }, protocol: string): boolean {
  const site = headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin') return false
  const origin = headers.origin
  if (origin === undefined) return true
  return headers.host !== undefined && origin === `${protocol}://${headers.host}`
}
