import { createHash } from 'node:crypto'

/**
 * Serialises a JSON value with object keys sorted at every level, so that
 * two bodies that differ only in key order get the same fingerprint.
 */
export function canonicalJson (value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`
  const entries = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`)
  return `{${entries.join(',')}}`
}

export interface FingerprintInput {
  method: string
  /** The route template (`/orders/:id`), not the raw URL. */
  route: string
  /** A parsed JSON body, a string or a Buffer; undefined for no body. */
  body: unknown
}

/** SHA-256 over method, route and canonical body: what makes two requests "the same". */
export function requestFingerprint ({ method, route, body }: FingerprintInput): string {
  const hash = createHash('sha256')
  hash.update(method.toUpperCase()).update('\n').update(route).update('\n')
  if (Buffer.isBuffer(body)) hash.update('b:').update(body)
  else if (typeof body === 'string') hash.update('s:').update(body)
  else if (body !== undefined) hash.update('j:').update(canonicalJson(body))
  return hash.digest('base64url')
}
