/** What {@link within} answers when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol('fastify-resilience.timed-out')

/**
 * `work`'s value, or {@link TIMED_OUT} once `ms` have passed without it; a
 * rejection that comes first passes through. Work that outlives the wait
 * goes on, and its later rejection is handled (by the race), not thrown.
 */
export async function within<T> (work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([work, new Promise<typeof TIMED_OUT>((resolve) => { timer = setTimeout(resolve, ms, TIMED_OUT) })])
  } finally {
    clearTimeout(timer)
  }
}
