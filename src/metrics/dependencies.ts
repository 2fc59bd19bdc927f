import type { BreakerStateName } from '../dependencies/breaker.js'
import type { DependencyStats } from '../dependencies/dependency.js'
import type { MetricsHub } from './hub.js'

const BREAKER_STATES: readonly BreakerStateName[] = ['closed', 'open', 'half-open']

/** What the dependencies capability lets the metrics read. */
export interface DependenciesSource {
  /** Per dependency name, read at scrape time. */
  stats: () => Record<string, DependencyStats>
  /** Subscribes to breaker state changes. */
  onStateChange: (listener: (change: { dependency: string, to: BreakerStateName }) => void) => void
}

/** Counters of {@link DependencyStats}: the metric, its help, and the field it reads. */
const COUNTERS: ReadonlyArray<[name: string, help: string, field: keyof DependencyStats]> = [
  ['dependency_calls_total', 'Calls made to each dependency, each counted once however many attempts it took.', 'calls'],
  ['dependency_attempts_total', 'Attempts that reached each dependency (or its chaos fault): first tries, retries and hedges.', 'attempts'],
  ['dependency_failures_total', 'Attempts that failed (5xx, 429, network errors, timeouts).', 'failures'],
  ['dependency_timeouts_total', 'Attempts that ran out of their timeout.', 'timeouts'],
  ['dependency_rejections_total', 'Calls refused without touching the network: breaker open or bulkhead full.', 'rejections'],
  ['dependency_retries_total', 'Retries made.', 'retries'],
  ['dependency_hedges_total', 'Hedged attempts made.', 'hedges'],
  ['dependency_fallbacks_total', 'Calls answered from their fallback (the answer is marked degraded).', 'fallbacks'],
  ['dependency_coalesced_total', 'Calls that joined an identical call already in flight instead of making their own.', 'coalesced'],
]

/** Gauges of {@link DependencyStats}. */
// A ratio combines as the largest (the process closest to tripping its breaker); the rest add up.
const GAUGES: ReadonlyArray<[name: string, help: string, field: keyof DependencyStats, combine: 'sum' | 'max']> = [
  ['dependency_retry_budget_remaining', 'Retries the retry budget still allows in its window.', 'budgetLeft', 'sum'],
  ['dependency_failure_ratio', 'Share of failed calls in the breaker\'s window (the largest over the processes aggregated).', 'failureRate', 'max'],
  ['dependency_in_flight', 'Calls holding a slot of the dependency\'s bulkhead.', 'inFlight', 'sum'],
  ['dependency_queued', 'Calls waiting for a slot of the dependency\'s bulkhead.', 'queued', 'sum'],
]

/**
 * The dependencies' metrics, labelled by dependency name (declared, so
 * bounded): the breaker's state, the counts `stats()` keeps, read at
 * scrape time, and the breaker's transitions.
 */
export function registerDependencyMetrics (hub: MetricsHub, source: DependenciesSource): void {
  hub.enable('dependencies')
  const transitions = new Map<string, Record<BreakerStateName, number>>()
  source.onStateChange(({ dependency, to }) => {
    let counts = transitions.get(dependency)
    if (counts === undefined) {
      counts = { closed: 0, open: 0, 'half-open': 0 }
      transitions.set(dependency, counts)
    }
    counts[to]++
  })
  hub.gauge({
    name: 'dependency_breaker_state',
    // Summed where several processes are aggregated (a cluster): the number of them in each state.
    help: 'State of each dependency\'s circuit breaker: 1 for the current state, 0 for the others (summed over the processes aggregated).',
    labelNames: ['dependency', 'state'],
    read (set) {
      for (const [dependency, stats] of Object.entries(source.stats())) {
        for (const state of BREAKER_STATES) set({ dependency, state }, stats.state === state ? 1 : 0)
      }
    },
  })
  hub.counter({
    name: 'dependency_breaker_transitions_total',
    help: 'Circuit breaker state changes, by dependency and the state entered.',
    labelNames: ['dependency', 'state'],
    read (set) {
      for (const dependency of Object.keys(source.stats())) {
        const counts = transitions.get(dependency)
        for (const state of BREAKER_STATES) set({ dependency, state }, counts?.[state] ?? 0)
      }
    },
  })
  for (const [name, help, field] of COUNTERS) {
    hub.counter({ name, help, labelNames: ['dependency'], read: (set) => { for (const [dependency, stats] of Object.entries(source.stats())) set({ dependency }, stats[field] as number) } })
  }
  for (const [name, help, field, combine] of GAUGES) {
    hub.gauge({ name, help, labelNames: ['dependency'], combine, read: (set) => { for (const [dependency, stats] of Object.entries(source.stats())) set({ dependency }, stats[field] as number) } })
  }
}
