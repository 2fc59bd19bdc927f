import { Buffer } from 'node:buffer'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { resolveFault } from './fault.js'
import type { Fault } from './fault.js'

/**
 * Reads a fault requested in a header, `type=latency;ms=200;rate=1;expires=<epoch ms>`.
 * Returns undefined for anything malformed: a requested fault is a
 * convenience for authorised callers, never an error for anyone else.
 * The rate is capped at `maxRate`. `latestExpiry` (epoch ms) is given for
 * a request authorised by its signature alone: it must then carry an
 * `expires` that has not passed and is no later than that.
 */
export function parseRequestedFault (value: string, maxRate: number, now: number, latestExpiry: number | undefined): Fault | undefined {
  // No prototype: `__proto__=1` must be an unknown field, refused like any other, not a silent no-op.
  const fields = Object.create(null) as Record<string, string | number>
  for (const part of value.split(';')) {
    const at = part.indexOf('=')
    if (at <= 0) return undefined
    const key = part.slice(0, at).trim()
    const raw = part.slice(at + 1).trim()
    fields[key] = key === 'type' || key === 'detail' || key === 'message' ? raw : Number(raw)
  }
  const { expires, ...spec } = fields
  if (!expiryAllowed(expires, now, latestExpiry)) return undefined
  spec.rate = Math.min(maxRate, typeof spec.rate === 'number' ? spec.rate : 1)
  try {
    return resolveFault(spec, 'requested fault')
  } catch {
    return undefined
  }
}

/**
 * A signed request must expire, and soon: a captured header can then be
 * replayed only until a time its signer chose within the horizon, never
 * for ever (`expires=1e20`).
 */
function expiryAllowed (expires: string | number | undefined, now: number, latestExpiry: number | undefined): boolean {
  if (expires === undefined) return latestExpiry === undefined
  return typeof expires === 'number' && expires > now && (latestExpiry === undefined || expires <= latestExpiry)
}

/** The signature of a requested fault: hex HMAC-SHA256 of the header value. */
export function signFault (value: string, secret: string): string {
  return createHmac('sha256', secret).update(value).digest('hex')
}

// An HMAC-SHA256 is 32 bytes: 64 hex digits, and nothing else. Checked
// first because Buffer.from(text, 'hex') stops at the first character that
// is not a hex pair, so a signature with anything after it (`<sig>0`,
// `<sig>, junk`, a repeated header joined as `<sig>, <sig>`) decodes to
// the signature's bytes. Either case: the bytes compared are the same.
const SIGNATURE = /^[0-9a-fA-F]{64}$/

/**
 * Whether `signature` is exactly the signature of `value` under `secret`,
 * compared in constant time. The format check reads only what the caller
 * sent, never the secret.
 */
export function verifyFaultSignature (value: string, signature: string, secret: string): boolean {
  if (!SIGNATURE.test(signature)) return false
  return timingSafeEqual(Buffer.from(signature, 'hex'), createHmac('sha256', secret).update(value).digest())
}
