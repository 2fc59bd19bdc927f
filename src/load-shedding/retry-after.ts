export interface RetryAfterSettings {
  /** Seconds to advise when there is no drain-rate estimate yet. */
  fallbackSeconds: number
  /** The advice never exceeds this many seconds. */
  maxSeconds: number
  /** Spread: the advice is drawn from [estimate, estimate × (1 + jitter)]. */
  jitter: number
}

/**
 * Seconds a refused client should wait: the time the work ahead of it
 * (`backlog` requests) needs to drain at the measured rate, at least one
 * second, spread at random so that clients refused together do not return
 * together. Retry-After carries whole seconds, hence the integer draw.
 */
export function retryAfterSeconds (backlog: number, drainPerSecond: number, settings: RetryAfterSettings, random: () => number): number {
  const estimate = drainPerSecond > 0 ? backlog / drainPerSecond : settings.fallbackSeconds
  const low = Math.min(settings.maxSeconds, Math.max(1, Math.ceil(estimate)))
  const high = Math.min(settings.maxSeconds, Math.ceil(low * (1 + settings.jitter)))
  return low + Math.floor(random() * (high - low + 1))
}
