import { Counter, Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import type { Objective } from './objective.js'
import type { OutcomeReason } from './outcome.js'

const DEFAULT_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

type Child = { inc: () => void }

/**
 * The metrics one route records, with their label values bound when the
 * route is added, so that a request costs a few increments and no label
 * lookups. Labels are the SLO, the indicator and the route template
 * ("GET /orders/:id"), never the raw URL, so their number stays bounded.
 */
export interface RouteMetrics {
  record: (reason: OutcomeReason, latencyBad: boolean | undefined, seconds: number) => void
}

/** SLO metrics on a prom-client registry. */
export class SloMetrics {
  readonly #registry: Registry
  readonly #prefix: string
  readonly #events: Counter<'slo' | 'sli' | 'route' | 'result'>
  readonly #badEvents: Counter<'slo' | 'sli' | 'route' | 'reason'>
  readonly #uncounted: Counter<'slo' | 'route' | 'reason'>
  #duration: Histogram<'slo' | 'route'> | undefined
  readonly #pendingDurations: Array<{ slo: string, route: string, bind: (histogram: Histogram<'slo' | 'route'>) => void }> = []
  readonly #thresholdsSeconds = new Set<number>()

  constructor (registry: Registry, prefix: string) {
    this.#registry = registry
    this.#prefix = prefix
    this.#events = new Counter({ name: `${prefix}slo_events_total`, help: 'Requests counted against an SLO, by indicator and result (good or bad).', labelNames: ['slo', 'sli', 'route', 'result'], registers: [registry] })
    this.#badEvents = new Counter({ name: `${prefix}slo_bad_events_total`, help: 'Bad requests by reason: server-error, deadline, shed, chaos, slow.', labelNames: ['slo', 'sli', 'route', 'reason'], registers: [registry] })
    this.#uncounted = new Counter({ name: `${prefix}slo_uncounted_events_total`, help: 'Requests of an SLO\'s routes left out of it: client errors and client disconnects.', labelNames: ['slo', 'route', 'reason'], registers: [registry] })
  }

  /** Binds the metrics of a route under an SLO; the latency histogram is bound by {@link seal}. */
  forRoute (objectives: readonly Objective[], route: string): RouteMetrics {
    const slo = objectives[0]?.name ?? ''
    const availability = objectives.find((objective) => objective.sli === 'availability') !== undefined
    const latency = objectives.find((objective) => objective.sli === 'latency')
    if (latency?.thresholdMs !== undefined) this.#thresholdsSeconds.add(latency.thresholdMs / 1000)
    const events = (sli: string, result: string): Child => this.#events.labels(slo, sli, route, result)
    const bad = (sli: string, reason: string): Child => this.#badEvents.labels(slo, sli, route, reason)
    const availabilityGood = events('availability', 'good')
    const availabilityBad = events('availability', 'bad')
    const badByReason: Partial<Record<OutcomeReason, Child>> = {
      'server-error': bad('availability', 'server-error'),
      deadline: bad('availability', 'deadline'),
      shed: bad('availability', 'shed'),
      chaos: bad('availability', 'chaos'),
    }
    const uncounted: Partial<Record<OutcomeReason, Child>> = {
      'client-error': this.#uncounted.labels(slo, route, 'client-error'),
      'client-closed': this.#uncounted.labels(slo, route, 'client-closed'),
    }
    const latencyGood = events('latency', 'good')
    const latencyBad = events('latency', 'bad')
    const latencySlow = bad('latency', 'slow')
    let observe: (seconds: number) => void = () => {}
    this.#pendingDurations.push({ slo, route, bind: (histogram) => { const child = histogram.labels(slo, route); observe = (seconds) => child.observe(seconds) } })
    if (this.#duration !== undefined) this.#bindDurations()
    return {
      record (reason, slow, seconds) {
        const skipped = uncounted[reason]
        if (skipped !== undefined) {
          skipped.inc()
          return
        }
        observe(seconds)
        if (availability) {
          if (reason === 'good') availabilityGood.inc()
          else {
            availabilityBad.inc()
            badByReason[reason]?.inc()
          }
        }
        if (slow === true) {
          latencyBad.inc()
          latencySlow.inc()
        } else if (slow === false) {
          latencyGood.inc()
        }
      },
    }
  }

  /** Creates the latency histogram, with buckets at every SLO threshold, once all routes are known. */
  seal (): void {
    if (this.#duration !== undefined) return
    const buckets = [...new Set([...DEFAULT_BUCKETS_SECONDS, ...this.#thresholdsSeconds])].sort((a, b) => a - b)
    this.#duration = new Histogram({ name: `${this.#prefix}slo_request_duration_seconds`, help: 'Response time of the requests counted against an SLO, with a bucket at each latency threshold.', labelNames: ['slo', 'route'], buckets, registers: [this.#registry] })
    this.#bindDurations()
  }

  #bindDurations (): void {
    const histogram = this.#duration
    if (histogram === undefined) return
    for (const pending of this.#pendingDurations.splice(0)) pending.bind(histogram)
  }
}
