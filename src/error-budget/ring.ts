/** Good and bad event counts over a span of time. */
export interface Counts {
  total: number
  bad: number
}

/**
 * Event counts in fixed-size time buckets: a ring of `size` buckets of
 * `resolutionMs` each, so memory is fixed whatever the traffic, and
 * recording is O(1). A slot is reused when time comes round to it again;
 * its bucket number says whether it still holds current counts.
 */
export class BucketRing {
  readonly resolutionMs: number
  readonly size: number
  readonly #bucketOf: Float64Array
  readonly #total: Float64Array
  readonly #bad: Float64Array

  constructor (resolutionMs: number, size: number) {
    this.resolutionMs = resolutionMs
    this.size = size
    this.#bucketOf = new Float64Array(size).fill(-1)
    this.#total = new Float64Array(size)
    this.#bad = new Float64Array(size)
  }

  /** Adds `total` events, `bad` of them bad, to the bucket that holds `now`. */
  add (now: number, total: number, bad: number): void {
    const bucket = Math.floor(now / this.resolutionMs)
    const slot = bucket % this.size
    if (this.#bucketOf[slot] !== bucket) {
      this.#bucketOf[slot] = bucket
      this.#total[slot] = 0
      this.#bad[slot] = 0
    }
    this.#total[slot] = (this.#total[slot] ?? 0) + total
    this.#bad[slot] = (this.#bad[slot] ?? 0) + bad
  }

  /**
   * Counts of the last `spanMs` up to `now`, in whole buckets: the current
   * (partial) bucket and as many before it as make up the span.
   */
  sum (now: number, spanMs: number): Counts {
    const current = Math.floor(now / this.resolutionMs)
    const buckets = Math.min(this.size, Math.ceil(spanMs / this.resolutionMs))
    let total = 0
    let bad = 0
    for (let bucket = current - buckets + 1; bucket <= current; bucket++) {
      if (bucket < 0) continue
      const slot = bucket % this.size
      if (this.#bucketOf[slot] !== bucket) continue
      total += this.#total[slot] ?? 0
      bad += this.#bad[slot] ?? 0
    }
    return { total, bad }
  }
}
