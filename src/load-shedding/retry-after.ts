export interface RetryAfterSettings {
  /** Seconds to advise before any admitted request has finished (no service time yet). */
  fallbackSeconds: number
  /** The advice never exceeds this many seconds. */
  maxSeconds: number
  /** Spread: the advice is drawn from [wait, wait × (1 + jitter)], the wait at least 1 s. */
  jitter: number
}

/**
 * Seconds a refused client should wait, given the expected wait for a slot
 * in milliseconds (undefined when there is no estimate yet), at most
 * `maxSeconds`. Retry-After carries whole seconds, at least 1, so the wait
 * is raised to 1 s before it is spread at random over
 * [wait, wait × (1 + jitter)]; a sub-second wait spread as it is would
 * stay within one whole second and send every client refused together back
 * together. The spread wait is then rounded at random to one of the two
 * whole seconds around it, up with a probability equal to its fraction, so
 * the advice averages the spread wait and clients whose spread waits fall
 * within the same second are still told different seconds. Without jitter
 * the advice is the same for everyone: the wait rounded up, never sooner
 * than the slot is expected.
 */
export function retryAfterSeconds (expectedWaitMs: number | undefined, settings: RetryAfterSettings, random: () => number): number {
  const waitSeconds = Math.max(1, expectedWaitMs === undefined ? settings.fallbackSeconds : expectedWaitMs / 1000)
  if (settings.jitter === 0) return Math.min(settings.maxSeconds, Math.ceil(waitSeconds))
  const spread = waitSeconds * (1 + random() * settings.jitter)
  const below = Math.floor(spread)
  // Up when the draw falls in the top `fraction` of [0, 1); not
  // floor(spread + draw), a sum that floating point can round up to the next
  // integer, advising a second beyond the spread.
  const whole = random() >= 1 - (spread - below) ? below + 1 : below
  return Math.min(settings.maxSeconds, whole)
}
