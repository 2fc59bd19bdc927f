import { Counter, Gauge, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'

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

interface Entry { kind: 'counter' | 'gauge', readers: Array<(set: SetValue<string>) => void> }

/**
 * The one place where every capability registers its metrics, on one
 * prom-client registry under one prefix. Counters and gauges are read
 * from the capabilities' own plain numbers when scraped (prom-client
 * calls collect() then), so a request pays at most a `++` for them.
 * Registering a name twice (two encapsulated instances of a capability)
 * adds a second reader to the same metric; their values add up.
 */
export class MetricsHub {
  readonly registry: Registry
  readonly prefix: string
  readonly #entries = new Map<string, Entry>()
  readonly #histograms = new Map<string, Histogram<string>>()
  readonly #capabilities = new Set<string>()

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
  counter<Label extends string> (metric: ScrapedMetric<Label>): void {
    this.#scraped('counter', metric)
  }

  /** Registers a gauge whose series are read at scrape time. */
  gauge<Label extends string> (metric: ScrapedMetric<Label>): void {
    this.#scraped('gauge', metric)
  }

  /** A prom-client histogram, observed only where an event happens anyway (a wait, a store call). */
  histogram<Label extends string> (metric: EventHistogram<Label>): Histogram<Label> {
    const name = this.prefix + metric.name
    let histogram = this.#histograms.get(name) as Histogram<Label> | undefined
    if (histogram === undefined) {
      histogram = new Histogram({ name, help: metric.help, labelNames: [...metric.labelNames], buckets: [...metric.buckets], registers: [this.registry] })
      this.#histograms.set(name, histogram as unknown as Histogram<string>)
    }
    for (const labels of metric.zero ?? []) histogram.zero(labels)
    return histogram
  }

  /**
   * A counter's or gauge's series now, read as a scrape would (every
   * reader, unprefixed `name`), without going through prom-client: for
   * pages that show the same counts. Empty when no capability registered it.
   */
  values (name: string): Array<{ labels: Record<string, string>, value: number }> {
    const entry = this.#entries.get(this.prefix + name)
    const values: Array<{ labels: Record<string, string>, value: number }> = []
    for (const reader of entry?.readers ?? []) reader((labels, value) => values.push({ labels, value }))
    return values
  }

  #scraped<Label extends string> (kind: Entry['kind'], metric: ScrapedMetric<Label>): void {
    const name = this.prefix + metric.name
    const existing = this.#entries.get(name)
    const read = metric.read as (set: SetValue<string>) => void
    if (existing !== undefined) {
      existing.readers.push(read)
      return
    }
    const entry: Entry = { kind, readers: [read] }
    this.#entries.set(name, entry)
    const options = { name, help: metric.help, labelNames: [...metric.labelNames] as string[], registers: [this.registry] }
    if (kind === 'counter') {
      // eslint-disable-next-line no-new -- registering is the point; the registry keeps it
      new Counter<string>({
        ...options,
        collect () {
          this.reset()
          for (const reader of entry.readers) reader((labels, value) => this.inc(labels, value))
        },
      })
    } else {
      // eslint-disable-next-line no-new -- registering is the point; the registry keeps it
      new Gauge<string>({
        ...options,
        collect () {
          this.reset()
          for (const reader of entry.readers) reader((labels, value) => this.inc(labels, value))
        },
      })
    }
  }
}
