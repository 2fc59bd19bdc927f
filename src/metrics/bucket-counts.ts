import type { HistogramSample } from './hub.js'

/**
 * One histogram series counted in plain numbers and reported at scrape
 * time: an observation finds its bucket and adds, where a prom-client
 * histogram turns its labels into a key on every observation.
 */
export class BucketCounts {
  /** Upper bounds, ascending; the +Inf bucket is the count. */
  readonly bounds: readonly number[]
  /** Observations per bucket, not cumulative. */
  readonly #counts: Float64Array
  #sum = 0
  #count = 0

  constructor (bounds: readonly number[]) {
    this.bounds = bounds
    this.#counts = new Float64Array(bounds.length)
  }

  observe (value: number): void {
    const bounds = this.bounds
    let bucket = 0
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++
    if (bucket < bounds.length) this.#counts[bucket] = (this.#counts[bucket] ?? 0) + 1
    this.#sum += value
    this.#count++
  }

  /** Reports the series as Prometheus reads a histogram: cumulative buckets, +Inf, sum and count. */
  read (labels: Record<string, string>, add: (sample: HistogramSample) => void): void {
    let cumulative = 0
    this.bounds.forEach((bound, index) => {
      cumulative += this.#counts[index] ?? 0
      add({ suffix: '_bucket', labels: { le: bound, ...labels }, value: cumulative })
    })
    add({ suffix: '_bucket', labels: { le: '+Inf', ...labels }, value: this.#count })
    add({ suffix: '_sum', labels, value: this.#sum })
    add({ suffix: '_count', labels, value: this.#count })
  }
}
