import { Counter, Gauge, Histogram } from 'prom-client'
import type { Metric, Registry } from 'prom-client'

/** Sets one series' value; called from a reader at scrape time. */
export type SetValue<Label extends string> = (labels: Record<Label, string>, value: number) => void

/** A metric whose values are plain numbers the capability keeps, read when Prometheus scrapes. */
export interface ScrapedMetric<Label extends string> {
  /** Name without the prefix, e.g. `load_shedding_shed_total`. */
  name: string
  help: string
  labelNames: readonly Label[]
  /** Reports every series' current value through `set`. */
  read: (set: SetValue<Label>) => void
  /**
   * How the values of several sources of one series combine: those of the
   * hubs sharing a registry here, and those of the workers of a cluster in
   * prom-client's AggregatorRegistry, which reads it as the metric's
   * `aggregator`. `sum` (the default) for counts and sizes; `max` for a
   * flag, a level or a ratio, which a sum would push out of its range
   * (two workers' `chaos_enabled` read 2).
   * @default 'sum'
   */
  combine?: 'sum' | 'max'
}

/** A histogram observed as events happen (a wait, a duration), unlike the metrics read at scrape time. */
export interface EventHistogram<Label extends string> {
  name: string
  help: string
  labelNames: readonly Label[]
  /** Upper bounds in seconds. */
  buckets: readonly number[]
  /** Label sets shown at zero before their first observation, so that dashboards and rules find them. */
  zero?: ReadonlyArray<Record<Label, string>>
}

/** One sample of a histogram whose buckets a capability counts itself. */
export interface HistogramSample {
  /** `_bucket` (with an `le` label), `_sum` or `_count`. */
  suffix: '_bucket' | '_sum' | '_count'
  labels: Record<string, string | number>
  value: number
}

/**
 * A histogram whose buckets a capability counts itself (its bounds known
 * only once its routes are), reported whole at scrape time.
 */
export interface ScrapedHistogram {
  /** Name without the prefix. */
  name: string
  help: string
  /** Reports every sample through `add`. */
  read: (add: (sample: HistogramSample) => void) => void
}

/** Reports a metric's series: through `set` for counters and gauges, `add` for a scraped histogram. */
type Reader = (emit: (...args: never[]) => void) => void

/** A metric registered on a registry, with the readers of every hub that registered it. */
interface Entry {
  /** What the registry holds under the name: checked before reuse, as `registry.clear()` may have dropped it. */
  metric: object
  /** Empty for an event histogram, which is observed rather than read. */
  readers: Reader[]
  /** The registrations (readers, or hubs sharing the event histogram) not yet closed. */
  holds: number
}

/**
 * The library's metrics on each registry, by full name. Shared by every
 * hub on that registry (two umbrellas in sibling contexts, or an app built
 * again after a close), since a registry accepts a name only once.
 */
const registered = new WeakMap<Registry, Map<string, Entry>>()

/**
 * Where capabilities register their metrics, on one prom-client registry
 * under one prefix. Counters and gauges are read from the capabilities'
 * own plain numbers when scraped (prom-client calls collect() then), so a
 * request pays at most a `++` for them. A name registered twice, by this
 * hub or another on the same registry (two encapsulated instances of a
 * capability, two umbrellas), adds a reader to the same metric; their
 * values add up, or the largest counts for a metric that says so
 * (`combine`). close() takes this hub's readers out, and a metric out of
 * the registry once none is left, so that an app built again on the same
 * registry can register.
 */
export class MetricsHub {
  readonly registry: Registry
  readonly prefix: string
  readonly #capabilities = new Set<string>()
  /** What this hub added, for close(). */
  #holds: Array<{ name: string, entry: Entry, reader: Reader | undefined }> = []

  constructor (registry: Registry, prefix: string) {
    this.registry = registry
    this.prefix = prefix
  }

  /** Notes that a capability registered its metrics: the dashboard and rules cover it. */
  enable (capability: string): void {
    this.#capabilities.add(capability)
  }

  /** The capabilities that registered metrics, in registration order. */
  capabilities (): string[] {
    return [...this.#capabilities]
  }

  /** Registers a counter whose series are read at scrape time. */
  counter<Label extends string> (metric: Omit<ScrapedMetric<Label>, 'combine'>): void {
    this.#scraped('counter', metric)
  }

  /** Registers a gauge whose series are read at scrape time. */
  gauge<Label extends string> (metric: ScrapedMetric<Label>): void {
    this.#scraped('gauge', metric)
  }

  /** A prom-client histogram, observed only where an event happens anyway (a wait, a store call). */
  histogram<Label extends string> (metric: EventHistogram<Label>): Histogram<Label> {
    const entry = this.#hold(metric.name, undefined, (name) => new Histogram({ name, help: metric.help, labelNames: [...metric.labelNames], buckets: [...metric.buckets], registers: [this.registry] }))
    const histogram = entry.metric as Histogram<Label>
    for (const labels of metric.zero ?? []) histogram.zero(labels)
    return histogram
  }

  /**
   * Registers a histogram whose buckets the capability counts itself, read
   * at scrape time; samples with the same labels from several readers add up.
   */
  scrapedHistogram (metric: ScrapedHistogram): void {
    this.#hold(metric.name, metric.read as Reader, (name, readers) => {
      const collector = histogramCollector(name, metric.help, readers)
      this.registry.registerMetric(collector as unknown as Metric)
      return collector
    })
  }

  /**
   * A counter's or gauge's series now, read as a scrape would (every
   * reader on the registry, unprefixed `name`), without going through
   * prom-client: for pages that show the same counts. Empty when no
   * capability registered it.
   */
  values (name: string): Array<{ labels: Record<string, string>, value: number }> {
    const entry = registered.get(this.registry)?.get(this.prefix + name)
    const values: Array<{ labels: Record<string, string>, value: number }> = []
    for (const reader of entry?.readers ?? []) (reader as (set: SetValue<string>) => void)((labels, value) => values.push({ labels, value }))
    return values
  }

  /**
   * Takes this hub's readers out of their metrics, and out of the registry
   * each metric (event histograms included) that no other hub still holds.
   * Called when the app closes.
   */
  close (): void {
    const metrics = registered.get(this.registry)
    for (const { name, entry, reader } of this.#holds) {
      if (reader !== undefined) entry.readers.splice(entry.readers.indexOf(reader), 1)
      entry.holds--
      if (entry.holds > 0) continue
      if (metrics?.get(name) === entry) metrics.delete(name)
      if (this.registry.getSingleMetric(name) === entry.metric) this.registry.removeSingleMetric(name)
    }
    this.#holds = []
  }

  #scraped<Label extends string> (kind: 'counter' | 'gauge', metric: ScrapedMetric<Label>): void {
    const combine = metric.combine ?? 'sum'
    this.#hold(metric.name, metric.read as Reader, (name, readers) => {
      const options = {
        name,
        help: metric.help,
        labelNames: [...metric.labelNames] as string[],
        registers: [this.registry],
        aggregator: combine,
        collect (this: Counter<string> | Gauge<string>) {
          this.reset()
          if (combine === 'sum') {
            for (const reader of readers) (reader as (set: SetValue<string>) => void)((labels, value) => this.inc(labels, value))
            return
          }
          const largest = new Map<string, { labels: Record<string, string>, value: number }>()
          for (const reader of readers) {
            (reader as (set: SetValue<string>) => void)((labels, value) => {
              const series = JSON.stringify(labels)
              const seen = largest.get(series)
              if (seen === undefined || value > seen.value) largest.set(series, { labels, value })
            })
          }
          for (const { labels, value } of largest.values()) (this as Gauge<string>).set(labels, value)
        },
      }
      return kind === 'counter' ? new Counter<string>(options) : new Gauge<string>(options)
    })
  }

  /**
   * The registry's entry for `name` (prefixed here), its metric created
   * and registered by `create` (reading `readers`) unless a hub registered
   * it already; this hub then holds it, with `reader` if it reads one.
   */
  #hold (unprefixed: string, reader: Reader | undefined, create: (name: string, readers: readonly Reader[]) => object): Entry {
    const name = this.prefix + unprefixed
    let metrics = registered.get(this.registry)
    if (metrics === undefined) {
      metrics = new Map()
      registered.set(this.registry, metrics)
    }
    let entry = metrics.get(name)
    // Cleared from the registry (registry.clear() between tests): registered afresh.
    if (entry !== undefined && this.registry.getSingleMetric(name) !== entry.metric) entry = undefined
    if (entry === undefined) {
      const readers: Reader[] = []
      entry = { metric: create(name, readers), readers, holds: 0 }
      metrics.set(name, entry)
    }
    if (reader !== undefined) entry.readers.push(reader)
    entry.holds++
    this.#holds.push({ name, entry, reader })
    return entry
  }
}

/** A histogram in the shape prom-client's registry reads from a metric: get() and reset(). */
function histogramCollector (name: string, help: string, readers: readonly Reader[]): object {
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const samples = new Map<string, { metricName: string, labels: Record<string, string | number>, value: number }>()
      for (const reader of readers) {
        (reader as ScrapedHistogram['read'])(({ suffix, labels, value }) => {
          const key = suffix + JSON.stringify(labels)
          const sample = samples.get(key)
          if (sample === undefined) samples.set(key, { metricName: name + suffix, labels, value })
          else sample.value += value
        })
      }
      return { name, help, type: 'histogram', values: [...samples.values()], aggregator: 'sum' }
    },
    reset: () => {},
  }
}
