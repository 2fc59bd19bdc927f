import { ConsecutiveBreaker, ExponentialBackoff, noJitterGenerator } from 'cockatiel'
import type { IBackoff } from 'cockatiel'
import type { Clock } from '../clock.js'
import { SlidingCounts } from './window.js'

/** Public name of a breaker state. */
export type BreakerStateName = 'closed' | 'open' | 'half-open'

/**
 * The breaker's whole state, one phase at a time. `reopenings` counts the
 * re-opens since the breaker was last closed, which lengthens the next
 * open period.
 */
export type BreakerState =
  | { readonly kind: 'closed' }
  | { readonly kind: 'open', readonly until: number, readonly reopenings: number, readonly external: boolean }
  | { readonly kind: 'half-open', readonly admitted: number, readonly succeeded: number, readonly reopenings: number }

/** What the breaker decided for one call. */
export type Admission =
  | { readonly kind: 'call' }
  | { readonly kind: 'probe' }
  | { readonly kind: 'rejected', readonly retryAfterMs: number }

/** How a call ended, as the breaker counts it. `ignored`: abandoned by our own caller, not the dependency's fault. */
export type CallResult = 'success' | 'failure' | 'ignored'

/** When the breaker opens: a failure rate over a window with a minimum volume, or consecutive failures. */
export type TripRule =
  | { readonly kind: 'rate', readonly failureRate: number, readonly minimumCalls: number }
  | { readonly kind: 'consecutive', readonly failures: number }

export interface BreakerSettings {
  trip: TripRule
  /** Window of the failure rate (and of the statistics in consecutive mode). */
  windowMs: number
  /** First open period; doubles with each re-open up to `maxOpenMs`. */
  openMs: number
  maxOpenMs: number
  /** Probe calls half-open admits; all must succeed for the breaker to close. */
  probes: number
}

export interface Transition {
  from: BreakerStateName
  to: BreakerStateName
  /** For `open`: how long it stays open. */
  openMs?: number
  /** The state came from another instance of the fleet, not from calls seen here. */
  external: boolean
}

/**
 * Asked before the breaker leaves `open` for `half-open`; answering false
 * keeps it open (another instance of the fleet is probing).
 */
export type HalfOpenGate = () => boolean

/**
 * A circuit breaker whose state machine is written out here rather than
 * taken from cockatiel's CircuitBreakerPolicy: that one lets a single test
 * call through in half-open, queues every other call behind it, closes on
 * its first success and reads `Date.now()`. This one admits a bounded
 * number of probes and rejects the rest, closes only when they all
 * succeed, and runs on an injected clock. The counting is cockatiel's
 * where it fits: its ConsecutiveBreaker for the consecutive rule, and its
 * ExponentialBackoff for the growing open periods.
 */
export class Breaker {
  readonly #settings: BreakerSettings
  readonly #clock: Clock
  // first: successes; second: failures.
  readonly #window: SlidingCounts
  readonly #consecutive: ConsecutiveBreaker | undefined
  readonly #openPeriods: ExponentialBackoff<number>
  #openPeriod: IBackoff<unknown> | undefined
  #state: BreakerState = { kind: 'closed' }
  #gate: HalfOpenGate | undefined
  readonly #listeners: Array<(transition: Transition) => void> = []

  constructor (settings: BreakerSettings, clock: Clock) {
    this.#settings = settings
    this.#clock = clock
    this.#window = new SlidingCounts(settings.windowMs, clock)
    this.#consecutive = settings.trip.kind === 'consecutive' ? new ConsecutiveBreaker(settings.trip.failures) : undefined
    this.#openPeriods = new ExponentialBackoff({ generator: noJitterGenerator, initialDelay: settings.openMs, maxDelay: settings.maxOpenMs, exponent: 2 })
  }

  get state (): BreakerState {
    return this.#state
  }

  get name (): BreakerStateName {
    return this.#state.kind
  }

  /** Failure rate and calls over the window. */
  counts (): { calls: number, failures: number, failureRate: number } {
    const { first: successes, second: failures } = this.#window.totals()
    const calls = successes + failures
    return { calls, failures, failureRate: calls === 0 ? 0 : failures / calls }
  }

  /** Whole milliseconds until an open breaker may half-open; 0 otherwise. */
  openRemainingMs (): number {
    const state = this.#state
    return state.kind === 'open' ? Math.max(0, Math.ceil(state.until - this.#clock.now())) : 0
  }

  onTransition (listener: (transition: Transition) => void): void {
    this.#listeners.push(listener)
  }

  setHalfOpenGate (gate: HalfOpenGate | undefined): void {
    this.#gate = gate
  }

  admit (): Admission {
    const state = this.#state
    switch (state.kind) {
      case 'closed':
        return CALL
      case 'open': {
        const leftMs = state.until - this.#clock.now()
        if (leftMs > 0) return { kind: 'rejected', retryAfterMs: leftMs }
        if (this.#gate !== undefined && !this.#gate()) return { kind: 'rejected', retryAfterMs: this.#settings.openMs }
        this.#move({ kind: 'half-open', admitted: 1, succeeded: 0, reopenings: state.reopenings }, false)
        return PROBE
      }
      case 'half-open':
        if (state.admitted >= this.#settings.probes) return { kind: 'rejected', retryAfterMs: Math.min(this.#settings.openMs, 1000) }
        this.#state = { ...state, admitted: state.admitted + 1 }
        return PROBE
    }
  }

  /** Records how an admitted call ended; the transitions out of closed and half-open happen here. */
  record (admission: Admission, result: CallResult): void {
    if (admission.kind === 'rejected') return
    if (result === 'success') this.#window.addFirst()
    else if (result === 'failure') this.#window.addSecond()
    const state = this.#state
    if (admission.kind === 'probe') {
      // A probe that ends after the state moved on (fleet, reset) changes nothing.
      if (state.kind !== 'half-open') return
      if (result === 'ignored') {
        this.#state = { ...state, admitted: state.admitted - 1 }
      } else if (result === 'failure') {
        this.#open(state.reopenings + 1, false)
      } else if (state.succeeded + 1 >= this.#settings.probes) {
        this.#close(false)
      } else {
        this.#state = { ...state, succeeded: state.succeeded + 1 }
      }
      return
    }
    // Results of calls admitted before the breaker opened count in the window only.
    if (state.kind !== 'closed' || result === 'ignored') return
    if (result === 'success') {
      this.#consecutive?.success()
      return
    }
    if (this.#shouldTrip()) this.#open(0, false)
  }

  /** Another instance opened the breaker: stay open for `forMs`. */
  openFromFleet (forMs: number): void {
    const state = this.#state
    const until = this.#clock.now() + forMs
    if (state.kind === 'open' && state.until >= until) return
    const reopenings = state.kind === 'closed' ? 0 : state.reopenings
    this.#move({ kind: 'open', until, reopenings, external: true }, true, forMs)
  }

  /** The fleet closed the breaker after its probes succeeded. */
  closeFromFleet (): void {
    if (this.#state.kind !== 'closed') this.#close(true)
  }

  #shouldTrip (): boolean {
    const trip = this.#settings.trip
    if (trip.kind === 'consecutive') return this.#consecutive!.failure()
    const { calls, failureRate } = this.counts()
    return calls >= trip.minimumCalls && failureRate >= trip.failureRate
  }

  #open (reopenings: number, external: boolean): void {
    this.#openPeriod = this.#openPeriod === undefined || reopenings === 0 ? this.#openPeriods.next() : this.#openPeriod.next(undefined)
    const openMs = this.#openPeriod.duration
    this.#move({ kind: 'open', until: this.#clock.now() + openMs, reopenings, external }, external, openMs)
  }

  #close (external: boolean): void {
    this.#openPeriod = undefined
    this.#window.reset()
    this.#consecutive?.success()
    this.#move({ kind: 'closed' }, external)
  }

  #move (next: BreakerState, external: boolean, openMs?: number): void {
    const from = this.#state.kind
    this.#state = next
    if (from === next.kind) return
    const transition: Transition = openMs === undefined ? { from, to: next.kind, external } : { from, to: next.kind, openMs, external }
    for (const listener of this.#listeners) listener(transition)
  }
}

const CALL: Admission = Object.freeze({ kind: 'call' })
const PROBE: Admission = Object.freeze({ kind: 'probe' })
