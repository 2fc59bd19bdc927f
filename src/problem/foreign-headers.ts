/*
 * Errors whose `headers` are another server's response headers: a 4xx that
 * a dependency answered, passed on by `call` as the caller's answer. Its
 * status is the caller's answer; the upstream's headers are not (an
 * internal `x-` header, a `www-authenticate` that makes browsers prompt for
 * a login, caching headers a CDN would obey). Only the wait it asks for
 * goes on.
 */

const foreign = new WeakSet<object>()

/** The headers of the error's problem answer that may come from such an error. */
export const FOREIGN_HEADERS_KEPT: ReadonlySet<string> = new Set(['retry-after'])

/** Marks `error` as carrying another server's headers; anything that is not an object is left alone. */
export function markForeignHeaders (error: unknown): void {
  if (typeof error === 'object' && error !== null) foreign.add(error)
}

/** Whether `error` carries another server's headers. */
export function hasForeignHeaders (error: unknown): boolean {
  return typeof error === 'object' && error !== null && foreign.has(error)
}
