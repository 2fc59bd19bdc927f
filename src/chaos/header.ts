import { Buffer } from 'node:buffer'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { resolveFault } from './fault.js'
import type { Fault } from './fault.js'

/**
 * Reads a fault requested in a header, `type=latency;ms=200;rate=1;expires=<epoch ms>`.
 * Returns undefined for anything malformed: a requested fault is a
 * convenience for authorised callers, never an error for anyone else.
 * The rate is capped at `maxRate`.
 */
export function parseRequestedFault (value: string, maxRate: number, now: number, requireExpiry: boolean): Fault | undefined {
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
  // A signed request must expire, so that a captured header cannot be replayed for ever.
  if (expires === undefined ? requireExpiry : !(typeof expires === 'number' && expires > now)) return undefined
  spec.rate = Math.min(maxRate, typeof spec.rate === 'number' ? spec.rate : 1)
  try {
    return resolveFault(spec, 'requested fault')
  } catch {
    return undefined
  }
}

/** The signature of a requested fault: hex HMAC-SHA256 of the header value. */
export function signFault (value: string, secret: string): string {
  return createHmac('sha256', secret).update(value).digest('hex')
}

/** Whether `signature` is the signature of `value` under `secret`, compared in constant time. */
export function verifyFaultSignature (value: string, signature: string, secret: string): boolean {
  const expected = Buffer.from(signFault(value, secret), 'hex')
  const given = Buffer.from(signature, 'hex')
  return given.length === expected.length && timingSafeEqual(given, expected)
}
