/*
 * Errors that carry another server's answer: a 4xx that a dependency
 * answered, passed on by `call` as the caller's answer. Its status is the
 * caller's answer, wherever the client put it on the error (got keeps it,
 * and the headers, on `response` only); the upstream's headers are not (an
 * internal `x-` header, a `www-authenticate` that makes browsers prompt for
 * a login, caching headers a CDN would obey). Only the wait it asks for
 * goes on.
 */

/** What the caller's answer takes from another server's. */
export interface PassedOnAnswer {
  status: number
  /** The upstream's Retry-After, as it sent it. */
  retryAfter: string | undefined
}

const passedOn = new WeakMap<object, PassedOnAnswer>()

/** Marks `error` as another server's answer; anything that is not an object is left alone. */
export function markPassedOn (error: unknown, answer: PassedOnAnswer): void {
  if (typeof error === 'object' && error !== null) passedOn.set(error, answer)
}

/** What of another server's answer `error` carries, if it is one. */
export function passedOnAnswer (error: unknown): PassedOnAnswer | undefined {
  return typeof error === 'object' && error !== null ? passedOn.get(error) : undefined
}
