import type { Clock } from '../clock.js'

/**
 * Two counters summed over a sliding window of time, kept in a fixed ring
 * of buckets so memory stays constant whatever the traffic. A bucket older
 * than the window is cleared before it is reused; totals are exact to one
 * bucket's width.
 */
export class SlidingCounts {
  readonly windowMs: number
  readonly #bucketMs: number
  readonly #clock: Clock
  readonly #first: Float64Array
  readonly #second: Float64Array
  readonly #epochs: Float64Array

  constructor (windowMs: number, clock: Clock, buckets = 10) {
    this.windowMs = windowMs
    this.#bucketMs = windowMs / buckets
    this.#clock = clock
    this.#first = new Float64Array(buckets)
    this.#second = new Float64Array(buckets)
    this.#epochs = new Float64Array(buckets).fill(-1)
  }

  /** Adds to the first counter (e.g. successes, calls). */
  addFirst (n = 1): void {
    this.#first[this.#current()]! += n
  }

  /** Adds to the second counter (e.g. failures, retries). */
  addSecond (n = 1): void {
    this.#second[this.#current()]! += n
  }

  /** The two totals over the window ending now. */
  totals (): { first: number, second: number } {
    const epoch = Math.floor(this.#clock.now() / this.#bucketMs)
    const oldest = epoch - this.#epochs.length + 1
    let first = 0
    let second = 0
    for (let i = 0; i < this.#epochs.length; i++) {
      if (this.#epochs[i]! >= oldest) {
        first += this.#first[i]!
        second += this.#second[i]!
      }
    }
    return { first, second }
  }

  reset (): void {
    this.#epochs.fill(-1)
    this.#first.fill(0)
    this.#second.fill(0)
  }

  #current (): number {
    const epoch = Math.floor(this.#clock.now() / this.#bucketMs)
    const index = epoch % this.#epochs.length
    if (this.#epochs[index] !== epoch) {
      this.#epochs[index] = epoch
      this.#first[index] = 0
      this.#second[index] = 0
    }
    return index
  }
}
