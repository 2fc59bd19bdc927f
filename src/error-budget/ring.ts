/** Good and bad event counts over a span of time. */
export interface Counts {
  total: number
  bad: number
}

/**
 * Event counts in fixed-size time buckets: a ring of `size` buckets of
 * `resolutionMs` each, so memory is fixed whatever the traffic. Each slot
 * keeps the running totals at the start of its bucket, so recording is
 * O(1) and so is the sum over any span: the totals now less those at the
 * span's first bucket. Sums are read for every indicator and burn-rate
 * window at every evaluation; adding bucket by bucket took 60 ms of one
 * turn of the event loop for 1,000 SLOs.
 *
 * Time only runs forward for the ring: an event stamped before its newest
 * bucket (a clock stepped back) counts in the newest, and a sum read at an
 * earlier time is read at the newest bucket.
 */
export class BucketRing {
  readonly resolutionMs: number
  readonly size: number
  readonly #totalBefore: Float64Array
  readonly #badBefore: Float64Array
  #total = 0
  #bad = 0
  /** The newest bucket the ring holds; every bucket of the `size` up to it has its slot. */
  #newest = -Infinity

  constructor (resolutionMs: number, size: number) {
    this.resolutionMs = resolutionMs
    this.size = size
    this.#totalBefore = new Float64Array(size)
    this.#badBefore = new Float64Array(size)
  }

  /** Adds `total` events, `bad` of them bad, to the bucket that holds `now`. */
  add (now: number, total: number, bad: number): void {
    const bucket = Math.floor(now / this.resolutionMs)
    if (bucket > this.#newest) this.#advanceTo(bucket)
    this.#total += total
    this.#bad += bad
  }

  /**
   * Counts of the last `spanMs` up to `now`, in whole buckets: the current
   * (partial) bucket and as many before it as make up the span.
   */
  sum (now: number, spanMs: number): Counts {
    const current = Math.max(Math.floor(now / this.resolutionMs), this.#newest)
    const buckets = Math.min(this.size, Math.ceil(spanMs / this.resolutionMs))
    const first = current - buckets + 1
    // Nothing was recorded from the span's first bucket on.
    if (first > this.#newest) return { total: 0, bad: 0 }
    const slot = this.#slotOf(first)
    return { total: this.#total - (this.#totalBefore[slot] ?? 0), bad: this.#bad - (this.#badBefore[slot] ?? 0) }
  }

  /** Opens the buckets after the newest up to `bucket`, each starting from the totals so far. */
  #advanceTo (bucket: number): void {
    for (let next = Math.max(this.#newest + 1, bucket - this.size + 1); next <= bucket; next++) {
      const slot = this.#slotOf(next)
      this.#totalBefore[slot] = this.#total
      this.#badBefore[slot] = this.#bad
    }
    this.#newest = bucket
  }

  #slotOf (bucket: number): number {
    return ((bucket % this.size) + this.size) % this.size
  }
}
