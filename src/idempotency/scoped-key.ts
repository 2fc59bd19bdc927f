import { hash } from 'node:crypto'

/**
 * The store key of an idempotency key: a hash of the caller's scope, the
 * route and the key, so that keys of different callers or routes can never
 * meet, and so that scopes (tenant or account ids) are not written to the
 * store in clear.
 */
export function scopedStoreKey (scope: string, method: string, route: string, key: string): string {
  return hash('sha256', `${scope}\0${method}\0${route}\0${key}`, 'base64url')
}
