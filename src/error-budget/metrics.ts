import { histogramSlots, observeInto, readFrom } from '../metrics/bucket-counts.js'
import type { MetricsHub } from '../metrics/hub.js'
import type { Objective } from './objective.js'
import { BAD_REASONS, UNCOUNTED_REASONS } from './outcome.js'
import type { OutcomeReason } from './outcome.js'

const DEFAULT_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/*
 * Where each count of a series sits in its array of counts. With a route
 * among a thousand, a request finds its series cold in the cache, one
 * miss per object it reads: one array for every count (the indicators',
 * the reasons' and the histogram's) is one object, where the series, its
 * histogram and the histogram's array, reached through a closure per
 * route, were five. Within the array, one miss per 64-byte line it reads:
 * what a good answer adds to lies in a run of adjacent slots (its count,
 * its latency count, the histogram's sum and count, its first buckets),
 * and the counts of failures, which it never reads, lie before them.
 */
/** One slot per bad reason (server-error, deadline, shed, chaos), then one per uncounted reason (client-error, client-closed, caller-budget-spent). */
const BAD_BY = 0
const UNCOUNTED = BAD_BY + BAD_REASONS.length
const GOOD = UNCOUNTED + UNCOUNTED_REASONS.length
const BAD = GOOD + 1
const LATENCY_GOOD = GOOD + 2
const LATENCY_BAD = GOOD + 3
/** Then the histogram of response times, laid out as observeInto keeps it, once its bounds are sealed. */
const DURATION = GOOD + 4

declare const routeCounts: unique symbol
/**
 * A route's counts under an SLO, laid out as above, as {@link SloMetrics.forRoute}
 * hands them to the route's recorder for {@link SloMetrics.record}. Routes
 * that share their labels share their counts.
 */
export type RouteCounts = number[] & { readonly [routeCounts]: true }

/** The slot of a reason that is not `good`, in a series' counts. */
function reasonSlot (reason: Exclude<OutcomeReason, 'good'>): number {
  // A switch, not an index of the reasons: a lookup by several names is megamorphic.
  switch (reason) {
    case 'server-error': return BAD_BY
    case 'deadline': return BAD_BY + 1
    case 'shed': return BAD_BY + 2
    case 'chaos': return BAD_BY + 3
    case 'client-error': return UNCOUNTED
    case 'client-closed': return UNCOUNTED + 1
    case 'caller-budget-spent': return UNCOUNTED + 2
  }
}

/** The counts of one route under one SLO: plain numbers, read by prom-client at scrape time. */
class RouteSeries {
  readonly slo: string
  readonly route: string
  readonly availability: boolean
  readonly latency: boolean
  /** Laid out as above; the histogram's slots are added when the bounds are sealed. */
  readonly counts: RouteCounts = Array.from({ length: DURATION }, () => 0) as RouteCounts
  /** Exposed from registration, at zero; otherwise from its first request on. */
  fromStart: boolean

  constructor (slo: string, route: string, availability: boolean, latency: boolean, fromStart: boolean) {
    this.slo = slo
    this.route = route
    this.availability = availability
    this.latency = latency
    this.fromStart = fromStart
  }

  count (slot: number): number {
    return this.counts[slot] as number
  }

  /** Good and bad counts are kept for every series, but only those of its indicators count here, as they show. */
  get exposed (): boolean {
    if (this.fromStart) return true
    const availability = this.availability ? this.count(GOOD) + this.count(BAD) : 0
    const latency = this.latency ? this.count(LATENCY_GOOD) + this.count(LATENCY_BAD) : 0
    let uncounted = 0
    for (let slot = UNCOUNTED; slot < GOOD; slot++) uncounted += this.count(slot)
    return availability + latency + uncounted > 0
  }
}

/** The series a scrape shows: read then, so that a request pays nothing for it. */
const exposed = (series: readonly RouteSeries[]): RouteSeries[] => series.filter((entry) => entry.exposed)

/**
 * SLO metrics on a prom-client registry: `slo_events_total`,
 * `slo_bad_events_total`, `slo_uncounted_events_total` and the histogram
 * `slo_request_duration_seconds` with a bucket at every latency threshold.
 * A request only adds to plain numbers (a prom-client update costs about
 * 0.3 µs, several per request); prom-client reads them when scraped.
 */
export class SloMetrics {
  readonly #series: RouteSeries[] = []
  readonly #thresholdsSeconds = new Set<number>()
  #bounds: number[] | undefined

  constructor (hub: MetricsHub) {
    const series = this.#series
    hub.counter({
      name: 'slo_events_total',
      help: 'Requests counted against an SLO, by indicator and result (good or bad).',
      labelNames: ['slo', 'sli', 'route', 'result'],
      read (set) {
        for (const entry of exposed(series)) {
          const { slo, route } = entry
          if (entry.availability) {
            set({ slo, sli: 'availability', route, result: 'good' }, entry.count(GOOD))
            set({ slo, sli: 'availability', route, result: 'bad' }, entry.count(BAD))
          }
          if (entry.latency) {
            set({ slo, sli: 'latency', route, result: 'good' }, entry.count(LATENCY_GOOD))
            set({ slo, sli: 'latency', route, result: 'bad' }, entry.count(LATENCY_BAD))
          }
        }
      },
    })
    hub.counter({
      name: 'slo_bad_events_total',
      help: 'Bad requests by reason: server-error, deadline, shed, chaos (availability), slow (latency).',
      labelNames: ['slo', 'sli', 'route', 'reason'],
      read (set) {
        for (const entry of exposed(series)) {
          const { slo, route } = entry
          if (entry.availability) {
            for (const reason of BAD_REASONS) set({ slo, sli: 'availability', route, reason }, entry.count(reasonSlot(reason)))
          }
          if (entry.latency) set({ slo, sli: 'latency', route, reason: 'slow' }, entry.count(LATENCY_BAD))
        }
      },
    })
    hub.counter({
      name: 'slo_uncounted_events_total',
      help: 'Requests of an SLO\'s routes left out of it: client errors, client disconnects, and 504s to callers whose budget was spent before the request arrived.',
      labelNames: ['slo', 'route', 'reason'],
      read (set) {
        for (const entry of exposed(series)) {
          for (const reason of UNCOUNTED_REASONS) set({ slo: entry.slo, route: entry.route, reason }, entry.count(reasonSlot(reason)))
        }
      },
    })
    hub.scrapedHistogram({
      name: 'slo_request_duration_seconds',
      help: 'Response time of the requests counted against an SLO, with a bucket at each latency threshold.',
      read: (add) => {
        const bounds = this.#bounds
        // Before the bounds are sealed no request has been observed, and there is no histogram to show.
        if (bounds === undefined) return
        for (const entry of exposed(series)) readFrom(entry.counts, DURATION, bounds, { slo: entry.slo, route: entry.route }, add)
      },
    })
  }

  /**
   * The counts of a route under an SLO, which its requests add to with
   * {@link record}. Labels are the SLO, the indicator and the route
   * template ("GET /orders/:id"), never the raw URL, so their number stays
   * bounded. A route not `fromStart` (the HEAD route Fastify adds
   * for each GET) shows in scrapes only once it has counted a request: at
   * zero from the start, the twins double every route's series.
   */
  forRoute (objectives: readonly Objective[], route: string, fromStart = true): RouteCounts {
    const latencyObjective = objectives.find((objective) => objective.sli === 'latency')
    if (latencyObjective?.thresholdMs !== undefined) this.#thresholdsSeconds.add(latencyObjective.thresholdMs / 1000)
    const slo = objectives[0]?.name ?? ''
    // Routes that differ only by constraints (version, host) share their labels, so one series.
    let entry = this.#series.find((existing) => existing.slo === slo && existing.route === route)
    if (entry === undefined) {
      entry = new RouteSeries(slo, route, objectives.some((objective) => objective.sli === 'availability'), latencyObjective !== undefined, fromStart)
      this.#series.push(entry)
      if (this.#bounds !== undefined) addHistogram(entry.counts, this.#bounds)
    }
    if (fromStart) entry.fromStart = true
    return entry.counts
  }

  /**
   * Counts one request of a route: `counts` from {@link forRoute}, its
   * reason, whether it was slow (undefined when latency is not judged)
   * and its response time. Good and bad are counted whatever the route's
   * indicators; a scrape shows those of its indicators only.
   */
  record (counts: RouteCounts, reason: OutcomeReason, slow: boolean | undefined, seconds: number): void {
    if (reason === 'client-error' || reason === 'client-closed' || reason === 'caller-budget-spent') {
      const slot = reasonSlot(reason)
      counts[slot] = (counts[slot] as number) + 1
      return
    }
    if (reason === 'good') counts[GOOD] = (counts[GOOD] as number) + 1
    else {
      const slot = reasonSlot(reason)
      counts[BAD] = (counts[BAD] as number) + 1
      counts[slot] = (counts[slot] as number) + 1
    }
    if (slow === true) counts[LATENCY_BAD] = (counts[LATENCY_BAD] as number) + 1
    else if (slow === false) counts[LATENCY_GOOD] = (counts[LATENCY_GOOD] as number) + 1
    observeInto(counts, DURATION, this.#bounds ?? this.seal(), seconds)
  }

  /** Fixes the histogram's buckets (the defaults and every threshold) once the routes are known. */
  seal (): number[] {
    if (this.#bounds !== undefined) return this.#bounds
    const bounds = [...new Set([...DEFAULT_BUCKETS_SECONDS, ...this.#thresholdsSeconds])].sort((a, b) => a - b)
    this.#bounds = bounds
    for (const entry of this.#series) addHistogram(entry.counts, bounds)
    return bounds
  }
}

/** Adds the slots of a histogram of `bounds` to a series' counts, at zero; in place, as its recorders hold the array. */
function addHistogram (counts: RouteCounts, bounds: readonly number[]): void {
  for (let slot = 0; slot < histogramSlots(bounds); slot++) counts.push(0)
}
