import type { Clock } from '../clock.js'
import { DrainRate } from './drain-rate.js'
import type { ConcurrencyLimit } from './limit.js'
import type { Priority } from './priority.js'
import { PRIORITY_RANK } from './priority.js'
import type { ShedReason } from './shed-reason.js'
import { WaitingLine } from './waiting-line.js'
import type { Waiter } from './waiting-line.js'

export interface AdmissionSettings {
  limit: ConcurrencyLimit
  /** Requests that may wait for a slot; 0 refuses at once. */
  maxQueue: number
  /** Longest time a request may wait for a slot, in milliseconds. */
  maxQueueWaitMs: number
  /** Share of the limit that only `critical` requests may use, from 0 to 1. */
  criticalReserve: number
  /** The reason given when the limit and the queue are full, and when a wait times out. */
  reasons: { full: ShedReason, timeout: ShedReason }
  clock: Clock
}

/** What {@link AdmissionController.enqueue} decided. */
export type EnqueueOutcome = { kind: 'queued' } | { kind: 'shed', reason: ShedReason }

const QUEUED: EnqueueOutcome = Object.freeze({ kind: 'queued' })

/** The share of maxQueueWaitMs a newcomer may wait while the line is a standing one. */
const STANDING_WAIT_SHARE = 0.1

/**
 * Slots for in-flight requests under a concurrency limit, and a bounded
 * line of requests waiting for one. Framework-free: the caller asks for a
 * slot, waits through callbacks, and releases the slot when the response
 * has gone.
 */
export class AdmissionController {
  readonly #settings: AdmissionSettings
  readonly #line = new WaitingLine()
  readonly #drain = new DrainRate()
  #inFlight = 0
  #meanLatencyMs = 0
  #completed = 0
  #timer: NodeJS.Timeout | undefined
  #timerAt = Infinity
  /** Since when the line has held someone without a break; undefined while it is empty. */
  #occupiedSince: number | undefined
  /** When a waiter of each class (by rank) last ran out its wait for a slot; a deadline running out is not counted. */
  readonly #timedOutAt = [-Infinity, -Infinity, -Infinity, -Infinity]

  constructor (settings: AdmissionSettings) {
    this.#settings = settings
  }

  get inFlight (): number {
    return this.#inFlight
  }

  get limit (): number {
    return this.#settings.limit.current
  }

  get queued (): number {
    return this.#line.size
  }

  /** Smoothed latency of completed requests in milliseconds; 0 before the first. */
  get meanLatencyMs (): number {
    return this.#meanLatencyMs
  }

  drainPerSecond (now: number): number {
    return this.#drain.perSecond(now)
  }

  /**
   * How long a newcomer of `priority` can expect to wait for a slot, in
   * milliseconds, or undefined before any request has finished. With every
   * usable slot taken, slots free one per `meanLatency / slots` on average,
   * and the newcomer's turn comes after the waiters of its class or higher
   * are served: (running + waiting ahead − slots + 1) × meanLatency / slots.
   * Based on how long requests hold a slot rather than on how often they
   * finish, so a quiet period (few completions because few arrivals) does
   * not make a short wait look long.
   */
  expectedWaitMs (priority: Priority): number | undefined {
    if (this.#completed === 0) return undefined
    const slots = this.#slotsFor(priority)
    const ahead = this.#inFlight + this.#line.countAtOrAbove(priority)
    return (Math.max(0, ahead - slots) + 1) * this.#meanLatencyMs / slots
  }

  /**
   * Takes a slot if one is free for this class and no request of the same
   * or a higher class is already waiting for one.
   */
  tryAcquire (priority: Priority): boolean {
    if (!this.#hasRoom(priority)) return false
    const first = this.#line.peek()
    if (first !== undefined && PRIORITY_RANK[first.priority] >= PRIORITY_RANK[priority]) return false
    this.#inFlight++
    return true
  }

  /**
   * Puts a request that found no slot in line, or refuses it: when the line
   * is full of requests of its class or higher, or when `budgetMs` (its
   * remaining deadline, if known) cannot cover the expected wait plus the
   * usual latency. A full line makes room for a higher class by refusing
   * the newest waiter of the lowest class.
   */
  enqueue (waiter: Waiter, budgetMs: number | undefined, now: number): EnqueueOutcome {
    const { maxQueue, maxQueueWaitMs, reasons, limit } = this.#settings
    limit.recordFull()
    if (maxQueue === 0) return { kind: 'shed', reason: reasons.full }
    // A line that has not emptied for a whole maxQueueWaitMs is a standing
    // queue, not a burst being absorbed: the overload is sustained, and a
    // full wait there would only add it to the latency of every request the
    // line lets in. Newcomers wait a tenth as long (after CoDel, as Facebook
    // applies it to its server queues); the slots stay as busy. A newcomer
    // with nobody of its class or higher ahead is served at the next free
    // slot: it keeps the full wait, so a critical request is not refused
    // for a line of lower ones. A line that just emptied because its
    // waiters of this class or higher ran out of time is standing all the
    // same: between bursts of arrivals it empties often, and a full wait
    // after each would let in mostly requests that waited it out.
    const standing = (this.#occupiedSince !== undefined && now - this.#occupiedSince >= maxQueueWaitMs && this.#line.countAtOrAbove(waiter.priority) > 0) || this.#timedOutSince(waiter.priority, now - maxQueueWaitMs)
    let waitMs = standing ? Math.max(1, maxQueueWaitMs * STANDING_WAIT_SHARE) : maxQueueWaitMs
    waiter.expiryReason = reasons.timeout
    if (budgetMs !== undefined) {
      const allowanceMs = budgetMs - this.#meanLatencyMs
      const expectedWaitMs = this.expectedWaitMs(waiter.priority) ?? 0
      if (allowanceMs <= 0 || expectedWaitMs > allowanceMs) return { kind: 'shed', reason: 'deadline' }
      if (allowanceMs < waitMs) {
        waitMs = allowanceMs
        waiter.expiryReason = 'deadline'
      }
    }
    if (this.#line.size >= maxQueue) {
      const evicted = this.#line.evictBelow(waiter.priority)
      if (evicted === undefined) return { kind: 'shed', reason: reasons.full }
      evicted.shed(reasons.full)
    }
    waiter.expiresAt = now + waitMs
    this.#occupiedSince ??= now
    this.#line.push(waiter)
    this.#armTimer(waiter.expiresAt)
    return QUEUED
  }

  /** Takes a waiter out of line without granting or refusing it (its request ended). */
  cancel (waiter: Waiter): void {
    this.#line.remove(waiter)
    if (this.#line.size === 0) this.#emptied()
  }

  /**
   * Frees the slot of a request admitted at `startedAt` when `inFlightAtStart`
   * were running, feeds its latency to the limit, and hands free slots to
   * the waiting requests, highest class first.
   */
  release (startedAt: number, inFlightAtStart: number): void {
    const now = this.#settings.clock.now()
    const latencyMs = now - startedAt
    this.#inFlight--
    this.#meanLatencyMs = this.#completed === 0 ? latencyMs : this.#meanLatencyMs + (latencyMs - this.#meanLatencyMs) / 16
    this.#completed++
    this.#drain.record(now)
    this.#settings.limit.record(latencyMs, inFlightAtStart, now)
    this.#grantWaiting()
  }

  /** Frees a slot granted to a request that had ended meanwhile; no latency is recorded. */
  abandon (): void {
    this.#inFlight--
    this.#grantWaiting()
  }

  /** Refuses everyone still waiting and stops the timer. */
  close (reason: ShedReason): void {
    this.#emptied()
    for (let waiter = this.#line.shift(); waiter !== undefined; waiter = this.#line.shift()) waiter.shed(reason)
  }

  #hasRoom (priority: Priority): boolean {
    return this.#inFlight < this.#slotsFor(priority)
  }

  /** Slots a class may use: all of them for `critical`, the limit less the critical reserve for the others. */
  #slotsFor (priority: Priority): number {
    const limit = this.#settings.limit.current
    if (priority === 'critical') return limit
    const reserved = Math.round(limit * this.#settings.criticalReserve)
    return Math.max(1, limit - reserved)
  }

  #grantWaiting (): void {
    for (let first = this.#line.peek(); first !== undefined && this.#hasRoom(first.priority); first = this.#line.peek()) {
      this.#line.shift()
      this.#inFlight++
      first.grant()
    }
    if (this.#line.size === 0) this.#emptied()
  }

  #emptied (): void {
    this.#clearTimer()
    this.#occupiedSince = undefined
  }

  #armTimer (at: number): void {
    if (at >= this.#timerAt) return
    this.#clearTimer()
    this.#timerAt = at
    // Not unref'd: the waiters in line wait on it; it is cleared once the line is empty.
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, at - this.#settings.clock.now()))
  }

  #clearTimer (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Infinity
  }

  /** Whether a waiter of `priority` or a higher class ran out its wait after `since`. */
  #timedOutSince (priority: Priority, since: number): boolean {
    for (let rank = PRIORITY_RANK[priority]; rank <= 3; rank++) if ((this.#timedOutAt[rank] as number) > since) return true
    return false
  }

  #expire (): void {
    this.#timer = undefined
    this.#timerAt = Infinity
    const now = this.#settings.clock.now()
    const expired = this.#line.takeExpired(now)
    for (const waiter of expired) {
      if (waiter.expiryReason === this.#settings.reasons.timeout) this.#timedOutAt[PRIORITY_RANK[waiter.priority]] = now
      waiter.shed(waiter.expiryReason)
    }
    const next = this.#line.earliestExpiry()
    if (next === Infinity) this.#occupiedSince = undefined
    else this.#armTimer(next)
  }
}
