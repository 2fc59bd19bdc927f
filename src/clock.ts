import { performance } from 'node:perf_hooks'

/** A source of monotonic milliseconds; injectable so tests can move time. */
export interface Clock {
  /** The current time in milliseconds. */
  now: () => number
}

/** Monotonic time, immune to wall-clock changes (NTP steps, manual resets). */
export const monotonicClock: Clock = { now: () => performance.now() }

/**
 * Epoch milliseconds, for what must agree with dates and with other
 * machines: chaos time boxes and signed header expiries, fleet buckets.
 */
export const wallClock: Clock = { now: () => Date.now() }
