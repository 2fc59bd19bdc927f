import type { HistogramSample } from './hub.js'

/**
 * Adds `value` to a histogram laid out in `values` from `offset` on: the
 * sum, the count, then observations per bucket (not cumulative, one slot
 * per bound). Laid out in an array of the caller's, so that a series can
 * keep its histogram in the same array as its other counts: a series per
 * route is cold in the cache when its route is one of many, and each
 * object a request touches there is one more miss. The sum and the count,
 * which every observation adds to, come first, next to the low buckets
 * that most observations fall in, and to the counts a caller keeps before
 * them: one cache line more often than not.
 */
export function observeInto (values: number[], offset: number, bounds: readonly number[], value: number): void {
  values[offset] = (values[offset] as number) + value
  values[offset + 1] = (values[offset + 1] as number) + 1
  const first = offset + 2
  let bucket = 0
  while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++
  if (bucket < bounds.length) values[first + bucket] = (values[first + bucket] as number) + 1
}

/** How many slots a histogram of `bounds` takes in an array: the sum, the count and a bucket per bound. */
export function histogramSlots (bounds: readonly number[]): number {
  return bounds.length + 2
}

/** Reports a histogram laid out as {@link observeInto} keeps it, as Prometheus reads one: cumulative buckets, +Inf, sum and count. */
export function readFrom (values: readonly number[], offset: number, bounds: readonly number[], labels: Record<string, string>, add: (sample: HistogramSample) => void): void {
  const count = values[offset + 1] as number
  let cumulative = 0
  bounds.forEach((bound, index) => {
    cumulative += values[offset + 2 + index] as number
    add({ suffix: '_bucket', labels: { le: bound, ...labels }, value: cumulative })
  })
  add({ suffix: '_bucket', labels: { le: '+Inf', ...labels }, value: count })
  add({ suffix: '_sum', labels, value: values[offset] as number })
  add({ suffix: '_count', labels, value: count })
}

/**
 * One histogram series counted in plain numbers and reported at scrape
 * time: an observation finds its bucket and adds, where a prom-client
 * histogram turns its labels into a key on every observation.
 */
export class BucketCounts {
  /** Upper bounds, ascending; the +Inf bucket is the count. */
  readonly bounds: readonly number[]
  /**
   * Laid out as {@link observeInto} keeps it: one array of numbers the
   * engine keeps unboxed next to each other, so that an observation
   * touches this object and this array only.
   */
  readonly #values: number[]

  constructor (bounds: readonly number[]) {
    this.bounds = bounds
    this.#values = Array.from({ length: histogramSlots(bounds) }, () => 0)
  }

  observe (value: number): void {
    observeInto(this.#values, 0, this.bounds, value)
  }

  /** Reports the series as Prometheus reads a histogram: cumulative buckets, +Inf, sum and count. */
  read (labels: Record<string, string>, add: (sample: HistogramSample) => void): void {
    readFrom(this.#values, 0, this.bounds, labels, add)
  }
}
