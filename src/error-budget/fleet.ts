import type { Cluster, Redis } from 'ioredis'
import { isRedisClient } from '../redis-client.js'
import type { RedisClient } from '../redis-client.js'
import type { Clock } from '../clock.js'
import { wallClock } from '../clock.js'
import { describeValue } from '../describe.js'
import { assertKnownKeys, assertOptionsObject, optionalClock, optionalIntegerBetween, optionalString } from '../options.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import type { Objective } from './objective.js'
import type { Counts } from './ring.js'
import { COARSE_RESOLUTION_MS, FINE_SPAN_MS } from './sli-counter.js'

const MINUTE_MS = 60_000

/** Options of {@link RedisErrorBudgetFleet}: the Redis client every instance shares, and how they count there. */
export interface RedisErrorBudgetFleetOptions {
  /** An ioredis client or cluster shared by every instance of the service. */
  client: RedisClient
  /** Prefix of the keys; hash-tagged per indicator for Redis Cluster. @default 'slo:' */
  prefix?: string
  /** Time source of the buckets; reads epoch milliseconds, the same on every instance. @default wallClock (Date.now) */
  clock?: Clock
  /** How often each instance adds its counts to Redis, in milliseconds. @default 5000 */
  flushIntervalMs?: number
}

// Tied to the interface as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const FLEET_KEYS = ['client', 'prefix', 'clock', 'flushIntervalMs'] as const satisfies ReadonlyArray<keyof RedisErrorBudgetFleetOptions>

/** What the fleet view can sum: counts over a span ending now. */
export interface CountSource {
  sum: (now: number, spanMs: number) => Counts
}

/** An increment of one Redis hash: a minute or hour bucket of one indicator. */
interface Increment { key: string, total: number, bad: number, ttlMs: number }

/**
 * Counts of one indicator not yet added to Redis: the current minute, and
 * increments per bucket key waiting for the next flush (merged, so a long
 * outage keeps one entry per bucket, at most a day of minutes).
 */
class PendingCounts {
  minute = -1
  total = 0
  bad = 0
  readonly #increments = new Map<string, Increment>()
  readonly #tag: string
  readonly #hourTtlMs: number

  constructor (tag: string, hourTtlMs: number) {
    this.#tag = tag
    this.#hourTtlMs = hourTtlMs
  }

  add (minute: number, bad: number): void {
    if (minute !== this.minute) {
      this.#closeMinute()
      this.minute = minute
    }
    this.total++
    this.bad += bad
  }

  take (): Increment[] {
    this.#closeMinute()
    const taken = [...this.#increments.values()]
    this.#increments.clear()
    return taken
  }

  /** Puts back increments that did not reach Redis. */
  restore (increments: readonly Increment[]): void {
    for (const increment of increments) this.#merge(increment)
    if (this.#increments.size > 2 * 1440) {
      for (const key of [...this.#increments.keys()].slice(0, this.#increments.size - 2 * 1440)) this.#increments.delete(key)
    }
  }

  #closeMinute (): void {
    if (this.total === 0) return
    const hour = Math.floor(this.minute * MINUTE_MS / COARSE_RESOLUTION_MS)
    this.#merge({ key: `${this.#tag}:m:${this.minute}`, total: this.total, bad: this.bad, ttlMs: FINE_SPAN_MS + 2 * MINUTE_MS })
    this.#merge({ key: `${this.#tag}:h:${hour}`, total: this.total, bad: this.bad, ttlMs: this.#hourTtlMs })
    this.total = 0
    this.bad = 0
  }

  #merge (increment: Increment): void {
    const existing = this.#increments.get(increment.key)
    if (existing === undefined) this.#increments.set(increment.key, { ...increment })
    else {
      existing.total += increment.total
      existing.bad += increment.bad
    }
  }
}

/** Sums of fetched minute and hour buckets, answering like a local counter. */
class FetchedCounts implements CountSource {
  readonly #minutes: Map<number, Counts>
  readonly #hours: Map<number, Counts>

  constructor (minutes: Map<number, Counts>, hours: Map<number, Counts>) {
    this.#minutes = minutes
    this.#hours = hours
  }

  sum (now: number, spanMs: number): Counts {
    const [buckets, resolution] = spanMs <= FINE_SPAN_MS ? [this.#minutes, MINUTE_MS] : [this.#hours, COARSE_RESOLUTION_MS]
    const current = Math.floor(now / resolution)
    const first = current - Math.ceil(spanMs / resolution) + 1
    let total = 0
    let bad = 0
    for (const [bucket, counts] of buckets) {
      if (bucket < first || bucket > current) continue
      total += counts.total
      bad += counts.bad
    }
    return { total, bad }
  }
}

/**
 * Fleet-wide error budgets: every instance adds its counts to per-minute
 * and per-hour hashes in Redis (HINCRBY, so concurrent instances never
 * overwrite each other; keys expire after the span they serve), and any
 * instance can sum them for the whole fleet. Time is wall-clock time so
 * that instances agree on buckets. Recording is local and O(1); writes are
 * batched by {@link flush}.
 */
export class RedisErrorBudgetFleet {
  readonly #client: Redis | Cluster
  readonly #prefix: string
  /** Time source of the buckets, epoch milliseconds, the same on every instance. */
  readonly clock: Clock
  readonly flushIntervalMs: number
  readonly #pending = new Map<string, PendingCounts>()
  #lastError: string | undefined

  /** @throws FRS_ERR_OPTION_UNKNOWN for an option it does not know, FRS_ERR_OPTION_INVALID for a value it cannot use */
  constructor (options: RedisErrorBudgetFleetOptions) {
    // Checked as the plugins' options are: from JavaScript, the `now` this
    // class took before `clock`, or a misspelt option, would otherwise be
    // dropped without a word, and the fleet count on the default clock.
    assertOptionsObject(options, 'RedisErrorBudgetFleet options')
    assertKnownKeys(options, FLEET_KEYS, 'RedisErrorBudgetFleet options')
    const client = options.client as unknown
    if (!isRedisClient(client)) {
      throw new FRS_ERR_OPTION_INVALID('RedisErrorBudgetFleet client', 'an ioredis Redis or Cluster instance', describeValue(client))
    }
    this.#client = client as unknown as Redis | Cluster
    this.#prefix = optionalString(options.prefix, 'RedisErrorBudgetFleet prefix', 'slo:')
    this.clock = optionalClock(options.clock, 'RedisErrorBudgetFleet clock', wallClock)
    this.flushIntervalMs = optionalIntegerBetween(options.flushIntervalMs, 'RedisErrorBudgetFleet flushIntervalMs', 5000, 100, 3_600_000, 'an integer of milliseconds from 100 to 3600000')
  }

  /** The message of the last failed Redis call, until a call succeeds again. */
  get lastError (): string | undefined {
    return this.#lastError
  }

  #tag (objective: Objective): string {
    return `${this.#prefix}{${objective.name}:${objective.sli}}`
  }

  /** Notes one counted event of an indicator at wall-clock `now`; `spanMs` is the longest span it is read over. */
  record (objective: Objective, now: number, bad: number, spanMs: number): void {
    const tag = this.#tag(objective)
    let pending = this.#pending.get(tag)
    if (pending === undefined) {
      pending = new PendingCounts(tag, spanMs + 2 * COARSE_RESOLUTION_MS)
      this.#pending.set(tag, pending)
    }
    pending.add(Math.floor(now / MINUTE_MS), bad)
  }

  /**
   * Adds the counts noted since the last flush to Redis, one pipeline per
   * indicator (its keys share a hash tag, hence a Cluster slot). An
   * increment whose command failed is kept for the next flush; the others
   * are not sent twice.
   */
  async flush (objectives: readonly Objective[]): Promise<void> {
    let firstError: unknown
    for (const objective of objectives) {
      const pending = this.#pending.get(this.#tag(objective))
      const increments = pending?.take() ?? []
      if (pending === undefined || increments.length === 0) continue
      const pipeline = this.#client.pipeline()
      for (const { key, total, bad, ttlMs } of increments) pipeline.hincrby(key, 't', total).hincrby(key, 'b', bad).pexpire(key, ttlMs)
      let replies: Array<[Error | null, unknown]> | null
      try {
        replies = await pipeline.exec()
      } catch (error) {
        replies = null
        firstError ??= error
      }
      if (replies === null) {
        firstError ??= new Error('the pipeline was not executed')
        pending.restore(increments)
        continue
      }
      // Three commands per increment; one HINCRBY failing leaves the other, so
      // only a total and bad count that both failed can be sent again whole.
      const failed = increments.filter((_, index) => replies?.[3 * index]?.[0] != null && replies?.[3 * index + 1]?.[0] != null)
      const broken = increments.filter((_, index) => (replies?.[3 * index]?.[0] == null) !== (replies?.[3 * index + 1]?.[0] == null))
      pending.restore(failed)
      if (failed.length > 0 || broken.length > 0) firstError ??= replies.find(([error]) => error !== null)?.[0]
    }
    if (firstError !== undefined) {
      this.#lastError = (firstError as Error).message
      throw firstError
    }
    this.#lastError = undefined
  }

  /** The fleet's counts of an indicator, read from Redis. */
  async read (objective: Objective, spanMs: number): Promise<CountSource> {
    const now = this.clock.now()
    const tag = this.#tag(objective)
    const currentMinute = Math.floor(now / MINUTE_MS)
    const currentHour = Math.floor(now / COARSE_RESOLUTION_MS)
    const minutes = Array.from({ length: FINE_SPAN_MS / MINUTE_MS + 1 }, (_, i) => currentMinute - i)
    const hours = Array.from({ length: Math.ceil(spanMs / COARSE_RESOLUTION_MS) + 1 }, (_, i) => currentHour - i)
    const pipeline = this.#client.pipeline()
    for (const minute of minutes) pipeline.hmget(`${tag}:m:${minute}`, 't', 'b')
    for (const hour of hours) pipeline.hmget(`${tag}:h:${hour}`, 't', 'b')
    try {
      const replies = await pipeline.exec()
      if (replies === null) throw new Error('the pipeline was not executed')
      const toMap = (buckets: number[], offset: number): Map<number, Counts> => {
        const map = new Map<number, Counts>()
        buckets.forEach((bucket, index) => {
          const [error, value] = replies[offset + index] ?? [new Error('missing reply'), null]
          if (error !== null) throw error
          const [total, bad] = value as Array<string | null>
          if (total !== null && total !== undefined) map.set(bucket, { total: Number(total), bad: Number(bad ?? 0) })
        })
        return map
      }
      const counts = new FetchedCounts(toMap(minutes, 0), toMap(hours, minutes.length))
      this.#lastError = undefined
      return counts
    } catch (error) {
      this.#lastError = (error as Error).message
      throw error
    }
  }
}
