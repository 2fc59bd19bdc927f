/**
 * The latencies of a dependency's last successful calls, in a fixed ring,
 * for "the usual latency" (the median, which decides whether a retry can
 * still finish within the deadline) and the p95 (when a hedge is sent).
 */
export class LatencySamples {
  readonly #ring: Float64Array
  #size = 0
  #next = 0
  #sorted: Float64Array | undefined

  constructor (capacity = 256) {
    this.#ring = new Float64Array(capacity)
  }

  get size (): number {
    return this.#size
  }

  add (ms: number): void {
    this.#ring[this.#next] = ms
    this.#next = (this.#next + 1) % this.#ring.length
    if (this.#size < this.#ring.length) this.#size++
    this.#sorted = undefined
  }

  /** The `q` quantile (0..1) of the samples, or undefined before `minimum` samples. */
  quantile (q: number, minimum = 1): number | undefined {
    if (this.#size < minimum || this.#size === 0) return undefined
    this.#sorted ??= this.#ring.slice(0, this.#size).sort()
    return this.#sorted[Math.min(this.#size - 1, Math.floor(q * this.#size))]
  }
}
