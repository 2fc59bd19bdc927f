import { flatten } from '../flat-string.js'
import { textHash } from '../text-hash.js'

/**
 * The store key of an idempotency key: scope, method, route and key
 * joined, so that keys of different callers or routes can never meet.
 * This form suits a store inside the process (the memory store), where
 * nothing is written anywhere else and a hash would cost more than the
 * lookup; stores elsewhere get {@link scopedStoreKey}. Flat, as the
 * store keeps it.
 */
export function joinedStoreKey (scope: string, method: string, route: string, key: string): string {
  return flatten(`${scope}\0${method}\0${route}\0${key}`)
}

/**
 * The store key for a store outside the process (Redis): a hash of the
 * joined key, so that scopes (tenant or account ids) are not written to
 * the store in clear.
 */
export function scopedStoreKey (scope: string, method: string, route: string, key: string): string {
  return textHash(joinedStoreKey(scope, method, route, key))
}
