export interface RetryAfterSettings {
  /** Seconds to advise before any admitted request has finished (no service time yet). */
  fallbackSeconds: number
  /** The advice never exceeds this many seconds. */
  maxSeconds: number
  /** Spread: the advice is drawn from [wait, wait × (1 + jitter)] before rounding. */
  jitter: number
}

/**
 * Seconds a refused client should wait, given the expected wait for a slot
 * in milliseconds (undefined when there is no estimate yet): spread at
 * random over [wait, wait × (1 + jitter)] so that clients refused together
 * do not return together, then rounded up to whole seconds (Retry-After
 * carries no fractions), at least 1 and at most `maxSeconds`. Rounding up
 * after the spread keeps sub-second waits at 1 s instead of doubling them.
 */
export function retryAfterSeconds (expectedWaitMs: number | undefined, settings: RetryAfterSettings, random: () => number): number {
  const waitSeconds = expectedWaitMs === undefined ? settings.fallbackSeconds : expectedWaitMs / 1000
  const spread = waitSeconds * (1 + random() * settings.jitter)
  return Math.min(settings.maxSeconds, Math.max(1, Math.ceil(spread)))
}
