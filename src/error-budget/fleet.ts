import { randomUUID } from 'node:crypto'
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
import { FLUSH_LUA, FLUSH_SHA } from './fleet-script.js'

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

/** Increments sent to Redis together, under one sequence number of this instance. */
interface Batch { readonly sequence: number, readonly increments: readonly Increment[] }

/** Most increments kept for the next flush while Redis cannot be reached: about a day of minutes. */
const MAX_PENDING_INCREMENTS = 2 * 1440

/**
 * Counts of one indicator not yet added to Redis: the current minute,
 * increments per bucket key waiting for the next flush (merged, so a long
 * outage keeps one entry per bucket, at most a day of minutes), and the
 * batch last sent, until Redis has answered it.
 */
class PendingCounts {
  minute = -1
  total = 0
  bad = 0
  /** This instance's mark for the indicator (fleet-script.ts). */
  readonly markKey: string
  /** The longest any bucket of the indicator lives; its mark lives as long. */
  readonly longestTtlMs: number
  readonly #increments = new Map<string, Increment>()
  readonly #tag: string
  #sequence = 0
  #unconfirmed: Batch | undefined

  constructor (tag: string, markKey: string, hourTtlMs: number) {
    this.#tag = tag
    this.markKey = markKey
    this.longestTtlMs = hourTtlMs
  }

  add (minute: number, bad: number): void {
    if (minute !== this.minute) {
      this.#closeMinute()
      this.minute = minute
    }
    this.total++
    this.bad += bad
  }

  /** Whether a batch was sent and Redis has not said that it ran it. */
  get unconfirmed (): boolean {
    return this.#unconfirmed !== undefined
  }

  /**
   * The batch to send: the one sent without an answer, as it was, so that
   * Redis can tell it was applied already; otherwise the increments noted
   * since, under the next sequence number. A new batch only once Redis has
   * answered the one before: its mark then never passes a batch it has not
   * applied. Undefined when there is nothing to send.
   */
  nextBatch (): Batch | undefined {
    if (this.#unconfirmed !== undefined) return this.#unconfirmed
    this.#closeMinute()
    if (this.#increments.size === 0) return undefined
    this.#unconfirmed = { sequence: ++this.#sequence, increments: [...this.#increments.values()] }
    this.#increments.clear()
    return this.#unconfirmed
  }

  /** Redis has applied `batch` (now or before). */
  confirm (batch: Batch): void {
    if (this.#unconfirmed === batch) this.#unconfirmed = undefined
  }

  #closeMinute (): void {
    if (this.total === 0) return
    const hour = Math.floor(this.minute * MINUTE_MS / COARSE_RESOLUTION_MS)
    this.#merge({ key: `${this.#tag}:m:${this.minute}`, total: this.total, bad: this.bad, ttlMs: FINE_SPAN_MS + 2 * MINUTE_MS })
    this.#merge({ key: `${this.#tag}:h:${hour}`, total: this.total, bad: this.bad, ttlMs: this.longestTtlMs })
    this.total = 0
    this.bad = 0
    if (this.#increments.size > MAX_PENDING_INCREMENTS) {
      for (const key of [...this.#increments.keys()].slice(0, this.#increments.size - MAX_PENDING_INCREMENTS)) this.#increments.delete(key)
    }
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
 * batched by {@link flush}, each applied once however often it is sent.
 */
export class RedisErrorBudgetFleet {
  readonly #client: Redis | Cluster
  readonly #prefix: string
  /** Time source of the buckets, epoch milliseconds, the same on every instance. */
  readonly clock: Clock
  readonly flushIntervalMs: number
  readonly #pending = new Map<string, PendingCounts>()
  /** Names this instance's marks: made once, so that no other instance, or this one restarted, shares them. */
  readonly #instance = randomUUID()
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
      pending = new PendingCounts(tag, `${tag}:f:${this.#instance}`, spanMs + 2 * COARSE_RESOLUTION_MS)
      this.#pending.set(tag, pending)
    }
    pending.add(Math.floor(now / MINUTE_MS), bad)
  }

  /**
   * Adds the counts noted since the last flush to Redis, one script per
   * indicator (its keys share a hash tag, hence a Cluster slot), applied
   * whole or not at all. A batch Redis has not answered is sent again, as it
   * was, until it does; Redis applies it once, whether the first send ran
   * and its answer was lost or it never arrived.
   */
  async flush (objectives: readonly Objective[]): Promise<void> {
    let firstError: unknown
    for (const objective of objectives) {
      const pending = this.#pending.get(this.#tag(objective))
      if (pending === undefined) continue
      try {
        await this.#flushIndicator(pending)
      } catch (error) {
        firstError ??= error
      }
    }
    if (firstError !== undefined) {
      this.#lastError = (firstError as Error).message
      throw firstError
    }
    this.#lastError = undefined
  }

  async #flushIndicator (pending: PendingCounts): Promise<void> {
    const resending = pending.unconfirmed
    // A batch sent again held back the counts noted since: once it is
    // through, they go in the same flush, as up to date as any other.
    if (await this.#sendNext(pending) && resending) await this.#sendNext(pending)
  }

  /** Sends the indicator's next batch and waits for Redis to apply it; false when there was none. */
  async #sendNext (pending: PendingCounts): Promise<boolean> {
    const batch = pending.nextBatch()
    if (batch === undefined) return false
    const args: Array<string | number> = [pending.markKey]
    for (const { key } of batch.increments) args.push(key)
    args.push(batch.sequence, pending.longestTtlMs)
    for (const { total, bad, ttlMs } of batch.increments) args.push(total, bad, ttlMs)
    const keyCount = batch.increments.length + 1
    // A flush runs every few seconds, not per request: ioredis' promises
    // cost nothing that matters here, unlike on the idempotency store's path.
    try {
      await this.#client.evalsha(FLUSH_SHA, keyCount, ...args)
    } catch (error) {
      // Redis forgets scripts on a restart or a SCRIPT FLUSH; EVAL loads it again.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      await this.#client.eval(FLUSH_LUA, keyCount, ...args)
    }
    pending.confirm(batch)
    return true
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
