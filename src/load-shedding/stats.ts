import type { Priority } from './priority.js'
import { countsByPriority } from './priority.js'
import type { ShedReason } from './shed-reason.js'
import { SHED_REASONS, countsByReason } from './shed-reason.js'

/** A bulkhead's state in {@link LoadSheddingStats}. */
export interface BulkheadStats {
  inFlight: number
  limit: number
  queued: number
}

/** What `app.loadShedding.stats()` returns. */
export interface LoadSheddingStats {
  /** Requests holding a slot of the shared limit. */
  inFlight: number
  /** The shared concurrency limit now; null when there is none. */
  limit: number | null
  /** Requests waiting for a slot of the shared limit. */
  queued: number
  /** Requests admitted since start, bulkheads included. */
  admitted: number
  shed: {
    total: number
    byReason: Record<ShedReason, number>
    byPriority: Record<Priority, number>
  }
  /** Classes shed by process pressure: 0 none, 1 low, 2 up to normal, 3 up to high. */
  pressureLevel: number
  /** Milliseconds the event loop has been lagging; 0 when it is not. */
  loopLaggingMs: number
  /** Completions per second, smoothed; 0 before there is an estimate. */
  drainPerSecond: number
  /** One entry per route with a bulkhead, keyed "METHOD /url". */
  bulkheads: Record<string, BulkheadStats>
}

/** Admission and shed counters. */
export class SheddingCounters {
  admitted = 0
  shedTotal = 0
  readonly byReason = countsByReason()
  readonly byPriority = countsByPriority()
  /** Sheds by reason, then priority: what the metrics report, one series per pair. */
  readonly byReasonAndPriority = Object.fromEntries(SHED_REASONS.map((reason) => [reason, countsByPriority()])) as Record<ShedReason, Record<Priority, number>>

  recordShed (reason: ShedReason, priority: Priority): void {
    this.shedTotal++
    this.byReason[reason]++
    this.byPriority[priority]++
    this.byReasonAndPriority[reason][priority]++
  }

  snapshot (): LoadSheddingStats['shed'] {
    return { total: this.shedTotal, byReason: { ...this.byReason }, byPriority: { ...this.byPriority } }
  }
}
