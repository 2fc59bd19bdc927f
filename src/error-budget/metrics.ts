import { BucketCounts } from '../metrics/bucket-counts.js'
import type { MetricsHub } from '../metrics/hub.js'
import type { Objective } from './objective.js'
import { BAD_REASONS } from './outcome.js'
import type { OutcomeReason } from './outcome.js'

const DEFAULT_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const UNCOUNTED_REASONS = ['client-error', 'client-closed'] as const

/** The counts of one route under one SLO: plain numbers, read by prom-client at scrape time. */
class RouteSeries {
  readonly slo: string
  readonly route: string
  readonly availability: boolean
  readonly latency: boolean
  good = 0
  bad = 0
  latencyGood = 0
  latencyBad = 0
  readonly badBy: Record<typeof BAD_REASONS[number], number> = { 'server-error': 0, deadline: 0, shed: 0, chaos: 0 }
  readonly uncounted: Record<typeof UNCOUNTED_REASONS[number], number> = { 'client-error': 0, 'client-closed': 0 }
  /** Response times; bucketed once the bounds are sealed, counted only before. */
  duration = new BucketCounts([])
  /** Exposed from registration, at zero; otherwise from its first request on. */
  fromStart: boolean

  constructor (slo: string, route: string, availability: boolean, latency: boolean, fromStart: boolean) {
    this.slo = slo
    this.route = route
    this.availability = availability
    this.latency = latency
    this.fromStart = fromStart
  }

  get exposed (): boolean {
    return this.fromStart || this.good + this.bad + this.latencyGood + this.latencyBad + this.uncounted['client-error'] + this.uncounted['client-closed'] > 0
  }
}

/** The series a scrape shows: read then, so that a request pays nothing for it. */
const exposed = (series: readonly RouteSeries[]): RouteSeries[] => series.filter((entry) => entry.exposed)

/**
 * What a route records per request. Labels are the SLO, the indicator and
 * the route template ("GET /orders/:id"), never the raw URL, so their
 * number stays bounded.
 */
export interface RouteMetrics {
  record: (reason: OutcomeReason, latencyBad: boolean | undefined, seconds: number) => void
}

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
        for (const { slo, route, ...entry } of exposed(series)) {
          if (entry.availability) {
            set({ slo, sli: 'availability', route, result: 'good' }, entry.good)
            set({ slo, sli: 'availability', route, result: 'bad' }, entry.bad)
          }
          if (entry.latency) {
            set({ slo, sli: 'latency', route, result: 'good' }, entry.latencyGood)
            set({ slo, sli: 'latency', route, result: 'bad' }, entry.latencyBad)
          }
        }
      },
    })
    hub.counter({
      name: 'slo_bad_events_total',
      help: 'Bad requests by reason: server-error, deadline, shed, chaos (availability), slow (latency).',
      labelNames: ['slo', 'sli', 'route', 'reason'],
      read (set) {
        for (const { slo, route, ...entry } of exposed(series)) {
          if (entry.availability) {
            for (const reason of BAD_REASONS) set({ slo, sli: 'availability', route, reason }, entry.badBy[reason])
          }
          if (entry.latency) set({ slo, sli: 'latency', route, reason: 'slow' }, entry.latencyBad)
        }
      },
    })
    hub.counter({
      name: 'slo_uncounted_events_total',
      help: 'Requests of an SLO\'s routes left out of it: client errors and client disconnects.',
      labelNames: ['slo', 'route', 'reason'],
      read (set) {
        for (const { slo, route, uncounted } of exposed(series)) {
          for (const reason of UNCOUNTED_REASONS) set({ slo, route, reason }, uncounted[reason])
        }
      },
    })
    hub.scrapedHistogram({
      name: 'slo_request_duration_seconds',
      help: 'Response time of the requests counted against an SLO, with a bucket at each latency threshold.',
      read: (add) => {
        for (const entry of exposed(series)) entry.duration.read({ slo: entry.slo, route: entry.route }, add)
      },
    })
  }

  /**
   * The counts of a route under an SLO, and the function its requests
   * record with. A route not `fromStart` (the HEAD route Fastify adds for
   * each GET) shows in scrapes only once it has counted a request: at zero
   * from the start, the twins double every route's series.
   */
  forRoute (objectives: readonly Objective[], route: string, fromStart = true): RouteMetrics {
    const latencyObjective = objectives.find((objective) => objective.sli === 'latency')
    if (latencyObjective?.thresholdMs !== undefined) this.#thresholdsSeconds.add(latencyObjective.thresholdMs / 1000)
    const slo = objectives[0]?.name ?? ''
    // Routes that differ only by constraints (version, host) share their labels, so one series.
    let entry = this.#series.find((existing) => existing.slo === slo && existing.route === route)
    if (entry === undefined) {
      entry = new RouteSeries(slo, route, objectives.some((objective) => objective.sli === 'availability'), latencyObjective !== undefined, fromStart)
      this.#series.push(entry)
      if (this.#bounds !== undefined) entry.duration = new BucketCounts(this.#bounds)
    }
    if (fromStart) entry.fromStart = true
    const series = entry
    return {
      record: (reason, slow, seconds) => {
        const entry = series
        if (reason === 'client-error' || reason === 'client-closed') {
          entry.uncounted[reason]++
          return
        }
        if (entry.availability) {
          if (reason === 'good') entry.good++
          else {
            entry.bad++
            entry.badBy[reason]++
          }
        }
        if (slow === true) entry.latencyBad++
        else if (slow === false) entry.latencyGood++
        if (this.#bounds === undefined) this.seal()
        entry.duration.observe(seconds)
      },
    }
  }

  /** Fixes the histogram's buckets (the defaults and every threshold) once the routes are known. */
  seal (): number[] {
    if (this.#bounds !== undefined) return this.#bounds
    const bounds = [...new Set([...DEFAULT_BUCKETS_SECONDS, ...this.#thresholdsSeconds])].sort((a, b) => a - b)
    this.#bounds = bounds
    for (const entry of this.#series) entry.duration = new BucketCounts(bounds)
    return bounds
  }
}
