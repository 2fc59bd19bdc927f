import { PRIORITIES } from '../load-shedding/priority.js'
import { SHED_REASONS } from '../load-shedding/shed-reason.js'
import type { SheddingCounters } from '../load-shedding/stats.js'
import type { MetricsHub } from './hub.js'

/** One admission pool: the shared limit (`shared`) or a route's bulkhead (its route template). */
export interface PoolReading {
  pool: string
  /** null when there is no limit. */
  limit: number | null
  inFlight: number
  queued: number
}

/** What the load shedder lets the metrics read. */
export interface SheddingSource {
  counters: SheddingCounters
  pools: () => Iterable<PoolReading>
  pressureLevel: () => number
}

/** Queue waits are bounded by maxQueueWaitMs (1 s by default); the buckets cover up to a minute. */
const QUEUE_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/**
 * Registers the load shedder's metrics; answers the histogram its queue
 * observes once a waiting request is let in or shed.
 */
export function registerSheddingMetrics (hub: MetricsHub, source: SheddingSource): { observeQueueWait: (seconds: number) => void } {
  hub.enable('loadShedding')
  const { counters } = source
  hub.counter({
    name: 'load_shedding_shed_total',
    help: 'Requests refused by load shedding (503 with Retry-After), by reason and priority class.',
    labelNames: ['reason', 'priority'],
    read (set) {
      for (const reason of SHED_REASONS) {
        for (const priority of PRIORITIES) set({ reason, priority }, counters.byReasonAndPriority[reason][priority])
      }
    },
  })
  hub.counter({
    name: 'load_shedding_admitted_total',
    help: 'Requests admitted by load shedding, bulkheads included.',
    labelNames: [],
    read: (set) => set({}, counters.admitted),
  })
  const poolGauge = (name: string, help: string, value: (pool: PoolReading) => number | null): void => {
    hub.gauge({
      name,
      help,
      labelNames: ['pool'],
      read (set) {
        for (const pool of source.pools()) {
          const current = value(pool)
          if (current !== null) set({ pool: pool.pool }, current)
        }
      },
    })
  }
  poolGauge('load_shedding_concurrency_limit', 'Current concurrency limit of each admission pool (adaptive for the shared pool unless fixed).', (pool) => pool.limit)
  poolGauge('load_shedding_in_flight', 'Requests holding a slot of each admission pool.', (pool) => pool.inFlight)
  poolGauge('load_shedding_queued', 'Requests waiting for a slot of each admission pool.', (pool) => pool.queued)
  hub.gauge({
    name: 'load_shedding_pressure_level',
    help: 'Priority classes shed by process pressure: 0 none, 1 low, 2 up to normal, 3 up to high.',
    labelNames: [],
    combine: 'max',
    read: (set) => set({}, source.pressureLevel()),
  })
  const histogram = hub.histogram({
    name: 'load_shedding_queue_wait_seconds',
    help: 'Time requests that had to queue waited for a slot, until admitted or shed.',
    labelNames: [],
    buckets: QUEUE_WAIT_BUCKETS,
  })
  return { observeQueueWait: (seconds) => histogram.observe(seconds) }
}
