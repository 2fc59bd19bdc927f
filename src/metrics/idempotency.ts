import { BucketCounts } from './bucket-counts.js'
import type { MetricsHub } from './hub.js'

/**
 * What happened to a request carrying an idempotency key:
 * - `executed`: the key was claimed and the handler ran;
 * - `replayed`: a completed answer was replayed;
 * - `conflict`: the key is held by a request in flight (409);
 * - `mismatch`: the key was used for a different request (422);
 * - `store-error`: the store could not be reached to claim the key.
 */
export const IDEMPOTENCY_OUTCOMES = ['executed', 'replayed', 'conflict', 'mismatch', 'store-error'] as const

export type IdempotencyOutcome = typeof IDEMPOTENCY_OUTCOMES[number]

/** Store operations, timed and counted when they fail. */
export const STORE_OPERATIONS = ['claim', 'renew', 'complete', 'release'] as const

export type StoreOperation = typeof STORE_OPERATIONS[number]

export class IdempotencyTally {
  readonly route: string
  readonly counts: Record<IdempotencyOutcome, number> = { executed: 0, replayed: 0, conflict: 0, mismatch: 0, 'store-error': 0 }

  constructor (route: string) {
    this.route = route
  }
}

const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/** Idempotency outcomes per route, store errors and store call latency. */
export class IdempotencyMetrics {
  readonly #tallies: IdempotencyTally[] = []
  readonly #storeErrors: Record<StoreOperation, number> = { claim: 0, renew: 0, complete: 0, release: 0 }
  // Counted here, not by a prom-client histogram: with the memory store a
  // call is a map lookup, and prom-client's observe cost several times that.
  readonly #latency: Record<StoreOperation, BucketCounts> = {
    claim: new BucketCounts(STORE_BUCKETS),
    renew: new BucketCounts(STORE_BUCKETS),
    complete: new BucketCounts(STORE_BUCKETS),
    release: new BucketCounts(STORE_BUCKETS),
  }

  constructor (hub: MetricsHub) {
    hub.enable('idempotency')
    const tallies = this.#tallies
    const storeErrors = this.#storeErrors
    const latency = this.#latency
    hub.counter({
      name: 'idempotency_requests_total',
      help: 'Requests with an idempotency key, by route and outcome: executed, replayed, conflict, mismatch, store-error.',
      labelNames: ['route', 'outcome'],
      read (set) {
        for (const tally of tallies) {
          for (const outcome of IDEMPOTENCY_OUTCOMES) set({ route: tally.route, outcome }, tally.counts[outcome])
        }
      },
    })
    hub.counter({
      name: 'idempotency_store_errors_total',
      help: 'Idempotency store calls that failed or timed out, by operation.',
      labelNames: ['operation'],
      read (set) {
        for (const operation of STORE_OPERATIONS) set({ operation }, storeErrors[operation])
      },
    })
    hub.scrapedHistogram({
      name: 'idempotency_store_duration_seconds',
      help: 'Duration of idempotency store calls, by operation, failures included.',
      read (add) {
        for (const operation of STORE_OPERATIONS) latency[operation].read({ operation }, add)
      },
    })
  }

  forRoute (route: string): IdempotencyTally {
    let tally = this.#tallies.find((existing) => existing.route === route)
    if (tally === undefined) {
      tally = new IdempotencyTally(route)
      this.#tallies.push(tally)
    }
    return tally
  }

  /** One store call ended; `failed` when it threw or timed out. */
  storeCall (operation: StoreOperation, seconds: number, failed: boolean): void {
    this.#latency[operation].observe(seconds)
    if (failed) this.#storeErrors[operation]++
  }
}
