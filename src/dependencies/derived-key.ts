import { textHash } from '../text-hash.js'

/**
 * The idempotency key of a keyed call made for a request that holds an
 * idempotency key of its own: derived from that key as the store keeps it
 * (scope, method and route included, so two callers' keys never meet),
 * the dependency, the call (its method and URL) and how many of the same
 * calls the request made before it. A client that retries the request
 * after an error makes the same calls again, in the same order, with the
 * same keys: the dependency runs each once. A random key per call would
 * have the dependency run it again (a second charge).
 */
export function derivedIdempotencyKey (requestKey: string, dependency: string, call: string, ordinal: number): string {
  return textHash(`${requestKey}\0${dependency}\0${call}\0${ordinal}`)
}
