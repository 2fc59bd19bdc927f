import type { HistogramSample } from './hub.js'

/**
 * One histogram series counted in plain numbers and reported at scrape
 * time: an observation finds its bucket and adds, where a prom-client
 * histogram turns its labels into a key on every observation.
 */
export class BucketCounts {
  /** Upper bounds, ascending; the +Inf bucket is the count. */
  readonly bounds: readonly number[]
  /**
   * Observations per bucket (not cumulative), then the sum, then the
   * count: one array of numbers the engine keeps unboxed next to each
   * other. A series per route is cold in the cache when its route is one
   * of many; an observation touches this object and this array only.
   */
  readonly #values: number[]

  constructor (bounds: readonly number[]) {
    this.bounds = bounds
    this.#values = Array.from({ length: bounds.length + 2 }, () => 0)
  }

  observe (value: number): void {
    const bounds = this.bounds
    const values = this.#values
    let bucket = 0
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++
    if (bucket < bounds.length) values[bucket] = (values[bucket] as number) + 1
    values[bounds.length] = (values[bounds.length] as number) + value
    values[bounds.length + 1] = (values[bounds.length + 1] as number) + 1
  }

  /** Reports the series as Prometheus reads a histogram: cumulative buckets, +Inf, sum and count. */
  read (labels: Record<string, string>, add: (sample: HistogramSample) => void): void {
    const values = this.#values
    const count = values[this.bounds.length + 1] as number
    let cumulative = 0
    this.bounds.forEach((bound, index) => {
      cumulative += values[index] as number
      add({ suffix: '_bucket', labels: { le: bound, ...labels }, value: cumulative })
    })
    add({ suffix: '_bucket', labels: { le: '+Inf', ...labels }, value: count })
    add({ suffix: '_sum', labels, value: values[this.bounds.length] as number })
    add({ suffix: '_count', labels, value: count })
  }
}
