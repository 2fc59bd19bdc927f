import { BucketRing } from './ring.js'
import type { Counts } from './ring.js'

/** Burn-rate windows up to this long are read from the fine ring. */
export const FINE_SPAN_MS = 6 * 3_600_000
export const FINE_RESOLUTION_MS = 10_000
export const COARSE_RESOLUTION_MS = 3_600_000

/**
 * Good and bad events of one indicator: 10-second buckets over 6 hours for
 * the short burn-rate windows, 1-hour buckets over the SLO window for the
 * long ones and the budget. About 50 KB for a 30-day window.
 */
export class SliCounter {
  readonly #fine = new BucketRing(FINE_RESOLUTION_MS, FINE_SPAN_MS / FINE_RESOLUTION_MS + 1)
  readonly #coarse: BucketRing

  /** `spanMs`: the longest span that will be read, the SLO window or a longer alert window. */
  constructor (spanMs: number) {
    this.#coarse = new BucketRing(COARSE_RESOLUTION_MS, Math.ceil(spanMs / COARSE_RESOLUTION_MS) + 1)
  }

  add (now: number, total: number, bad: number): void {
    this.#fine.add(now, total, bad)
    this.#coarse.add(now, total, bad)
  }

  /** Counts over the last `spanMs`, to the resolution of the ring that covers it. */
  sum (now: number, spanMs: number): Counts {
    return spanMs <= FINE_SPAN_MS ? this.#fine.sum(now, spanMs) : this.#coarse.sum(now, spanMs)
  }
}
