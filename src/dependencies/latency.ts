/**
 * The latencies of a dependency's last successful calls, in a fixed ring,
 * for "the usual latency" (the median, which decides whether a retry can
 * still finish within the deadline) and the p95 (when a hedge is sent).
 */
export class LatencySamples {
  readonly #ring: Float64Array
  /**
   * The same samples in ascending order, kept so as each one comes and
   * goes: a hedged call asks for a quantile after every sample, and sorting
   * a copy of the ring each time cost several microseconds per call.
   */
  readonly #sorted: Float64Array
  #size = 0
  #next = 0

  constructor (capacity = 256) {
    this.#ring = new Float64Array(capacity)
    this.#sorted = new Float64Array(capacity)
  }

  get size (): number {
    return this.#size
  }

  /** Keeps `ms`, in place of the oldest sample once the ring is full; a latency that is not a number is not kept. */
  add (ms: number): void {
    if (Number.isNaN(ms)) return
    if (this.#size === this.#ring.length) this.#removeSorted(this.#ring[this.#next] as number)
    this.#insertSorted(ms)
    this.#ring[this.#next] = ms
    this.#next = (this.#next + 1) % this.#ring.length
  }

  /** The `q` quantile (0..1) of the samples, or undefined before `minimum` samples. */
  quantile (q: number, minimum = 1): number | undefined {
    if (this.#size < minimum || this.#size === 0) return undefined
    return this.#sorted[Math.min(this.#size - 1, Math.floor(q * this.#size))]
  }

  #insertSorted (ms: number): void {
    // After the samples equal to it: the first index holding a larger one.
    const at = this.#firstIndex(ms, false)
    this.#sorted.copyWithin(at + 1, at, this.#size)
    this.#sorted[at] = ms
    this.#size++
  }

  #removeSorted (ms: number): void {
    // The first index holding a sample not below it holds one equal to it.
    const at = this.#firstIndex(ms, true)
    this.#sorted.copyWithin(at, at + 1, this.#size)
    this.#size--
  }

  /**
   * Binary search: the first index of the sorted samples holding one above
   * `ms` (or equal to it, when `orEqual`), or the count of samples.
   */
  #firstIndex (ms: number, orEqual: boolean): number {
    let low = 0
    let high = this.#size
    while (low < high) {
      const middle = (low + high) >>> 1
      const sample = this.#sorted[middle] as number
      if (sample > ms || (orEqual && sample === ms)) high = middle
      else low = middle + 1
    }
    return low
  }
}
