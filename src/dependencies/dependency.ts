import { performance } from 'node:perf_hooks'
import { randomUUID } from 'node:crypto'
import { ExponentialBackoff, decorrelatedJitterGenerator, fullJitterGenerator } from 'cockatiel'
import type { IBackoff } from 'cockatiel'
import { Breaker } from './breaker.js'
import type { Admission, BreakerStateName, CallResult, Transition } from './breaker.js'
import { BULKHEAD_FULL, Bulkhead } from './bulkhead.js'
import { Coalescer } from './coalescer.js'
import { dependencyError, isDependencyError } from './failure.js'
import type { DependencyFailure, FailureReason } from './failure.js'
import { LastGoodStore } from './last-good.js'
import { LatencySamples } from './latency.js'
import type { ResolvedDependency, ResolvedFallback } from './options.js'
import { RetryBudget } from './retry-budget.js'
import { follow, unfollow } from './follow.js'
import { raceAbort, sleep } from './sleep.js'

/** The caller's side of a call: the request's deadline. */
export interface CallerContext {
  /**
   * Aborts when the request's deadline passes or its client goes away.
   * Read only where a call waits (a bulkhead's queue, a backoff,
   * coalescing): a deadline makes it when first read.
   */
  readonly signal: AbortSignal
  /** Whether the caller has given up, read without making `signal`. */
  readonly aborted: boolean
  /** Why the caller gave up, or undefined. */
  readonly reason: unknown
  /** Makes `controller` abort when the caller gives up, until `unfollow`. */
  follow: (controller: AbortController) => void
  unfollow: (controller: AbortController) => void
  remainingMs: () => number
  /** The headers that forward the remaining budget (empty without a deadline). */
  headers: () => Record<string, string>
}

/** A caller whose only tie to the call is a signal: a shared call, or a caller without a deadline. */
function signalCaller (signal: AbortSignal, remainingMs: () => number, headers: () => Record<string, string>): CallerContext {
  return {
    signal,
    get aborted () { return signal.aborted },
    get reason (): unknown { return signal.reason },
    follow: (controller) => { follow(signal, controller) },
    unfollow: (controller) => { unfollow(signal, controller) },
    remainingMs,
    headers,
  }
}

/**
 * The caller of one call that also passed a signal of its own (fetch's
 * `init.signal`): the call gives up when either does, and giving up on
 * its own signal is the caller's choice, never the dependency's failure —
 * not counted, not retried, no fallback. A coalesced call follows its
 * shared signal, so this caller leaves it alone.
 */
export function withOwnSignal (caller: CallerContext, own: AbortSignal): CallerContext {
  let signal: AbortSignal | undefined
  return {
    get signal () { return (signal ??= AbortSignal.any([own, caller.signal])) },
    get aborted () { return own.aborted || caller.aborted },
    get reason (): unknown { return own.aborted ? own.reason : caller.reason },
    follow: (controller) => {
      follow(own, controller)
      caller.follow(controller)
    },
    unfollow: (controller) => {
      unfollow(own, controller)
      caller.unfollow(controller)
    },
    remainingMs: () => caller.remainingMs(),
    headers: () => caller.headers(),
  }
}

/** How one attempt ended, as the code that made it sees it. */
export type AttemptResult<T> =
  | { kind: 'value', value: T }
  /**
   * `busy`: the dependency is still working on this call (a key in use); retried, never counted by the breaker.
   * `injected`: a chaos fault, not the dependency, failed the attempt.
   */
  | { kind: 'failure', reason: 'status' | 'network', status?: number, retryAfterMs?: number, cause?: unknown, busy?: boolean, injected?: boolean }
  /** An error that is not the dependency's failure (a 4xx a client threw): passed on, not counted, not retried. */
  | { kind: 'error', error: unknown }

type Outcome<T> =
  | AttemptResult<T>
  /** `injected`: a chaos fault held the attempt until it timed out. */
  | { kind: 'timeout', injected?: boolean }
  /** The caller gave up (deadline, client gone, hedge lost): not the dependency's fault. */
  | { kind: 'abandoned', error: unknown }

/** A fallback that gives no answer: the failure stands. */
export const NO_ANSWER = Symbol('no-answer')

/** One call as the transport (fetch, or a user's client) describes it. */
export interface CallPlan<T> {
  attempt: (signal: AbortSignal, headers: Record<string, string>) => Promise<AttemptResult<T>>
  /** Safe to repeat: retries, hedges and coalescing apply. */
  idempotent: boolean
  /** POST or PATCH to a dependency that takes idempotency keys: sent with a key, and retried with it unless `replayable` is false. */
  keyed: boolean
  /** False when the request's body can be sent only once (a stream): no retry, whatever the method. */
  replayable?: boolean
  /** The key the caller set, sent on every attempt of a keyed call instead of a generated one. */
  idempotencyKey?: string | undefined
  /** Identifies identical calls (coalescing) and the last good answer. */
  key: string
  coalesce: boolean
  fallback: ResolvedFallback | undefined
  /** Turns a fallback's value into the call's answer type; {@link NO_ANSWER} when it cannot be one. */
  fromFallback: (value: unknown) => T | typeof NO_ANSWER
  /** The attempt ends when its signal aborts (fetch does); otherwise the attempt is raced against the signal. @default false */
  honoursSignal?: boolean
  /** Whether an answer may be shared with other callers and kept as the last good one. @default always */
  shareable?: (value: T) => boolean
  /**
   * Watches an answer whose body is read after the attempt ends: returns
   * the answer to hand on, or undefined when there is nothing to watch.
   * `settled` is called once the body ends (without a failure) or fails,
   * and returns the error to surface.
   */
  watch?: (value: T, settled: (failure?: { cause: unknown }) => unknown) => T | undefined
}

/** A fault the chaos capability puts on one attempt; `ended` aborts when its kill switch ends it early. */
export interface InjectedFault {
  type: 'latency' | 'error' | 'exception' | 'hang'
  ms: number
  status: number
  ended: AbortSignal
  end: () => void
}

/** What `app.dependencies.stats()` shows per dependency. */
export interface DependencyStats {
  state: BreakerStateName
  failureRate: number
  /** Calls in the breaker's window. */
  windowCalls: number
  /** Calls made since start, each counted once however many attempts it took. */
  calls: number
  /** Attempts that reached the dependency (or its chaos fault). */
  attempts: number
  failures: number
  timeouts: number
  /** Calls refused without touching the network: breaker open or bulkhead full. */
  rejections: number
  retries: number
  hedges: number
  /** Retries the budget still allows in its window. */
  budgetLeft: number
  fallbacks: number
  /** Calls that joined a call already in flight instead of making their own, counted as they end (not one that then made its own, its answer too large to share). */
  coalesced: number
  inFlight: number
  queued: number
  /** Milliseconds until an open breaker half-opens. */
  openRemainingMs: number
}

// The reasons an attempt's signal aborts with, compared by identity. Errors
// rather than symbols: a client that rejects with its signal's reason, or
// writes it into a message, gets an error it can read.
const TIMED_OUT = new DOMException('the attempt took longer than the dependency\'s timeoutMs', 'TimeoutError')
const DEADLINE_BACKSTOP_MS = 250
// A hang lasts until the attempt's timeout; this only bounds the timer.
const MAX_HANG_MS = 2_147_000_000
const MAX_SAMPLES_BEFORE_HEDGE = 20

/**
 * One named dependency: its breaker, retry budget, bulkhead, coalescer,
 * latency samples and last good answers, and the policy that combines them
 * for each call. Framework-free: the plugin hands it the request's
 * deadline as a {@link CallerContext}.
 */
export class Dependency {
  readonly name: string
  readonly settings: ResolvedDependency
  readonly breaker: Breaker | undefined
  readonly budget: RetryBudget
  readonly bulkhead: Bulkhead | undefined
  readonly latency = new LatencySamples()
  /**
   * How long the latest failed attempt took: the only measure of the
   * dependency's latency before any call has succeeded (a process started
   * while it fails), when a retry must still fit in the deadline.
   */
  #failedAttemptMs: number | undefined
  readonly #coalescer = new Coalescer<unknown>()
  readonly #lastGood = new LastGoodStore<unknown>()
  readonly #backoff: ExponentialBackoff<unknown>
  #faults: (() => InjectedFault | undefined) | undefined
  readonly #counters = { calls: 0, attempts: 0, failures: 0, timeouts: 0, rejections: 0, retries: 0, hedges: 0, fallbacks: 0, coalesced: 0 }

  constructor (settings: ResolvedDependency) {
    this.name = settings.name
    this.settings = settings
    this.breaker = settings.breaker === undefined ? undefined : new Breaker(settings.breaker, settings.clock)
    this.budget = new RetryBudget(settings.retry.budget, settings.clock)
    this.bulkhead = settings.bulkhead === undefined ? undefined : new Bulkhead(settings.bulkhead.maxConcurrent, settings.bulkhead.maxQueue)
    const generator = settings.retry.jitter === 'full' ? fullJitterGenerator : decorrelatedJitterGenerator
    this.#backoff = new ExponentialBackoff<unknown>({ generator: generator as never, initialDelay: settings.retry.initialMs, maxDelay: settings.retry.maxMs })
  }

  /** Where the chaos capability's faults for this dependency come from. */
  setFaultSource (source: (() => InjectedFault | undefined) | undefined): void {
    this.#faults = source
  }

  onTransition (listener: (transition: Transition) => void): void {
    this.breaker?.onTransition(listener)
  }

  stats (): DependencyStats {
    const counts = this.breaker?.counts() ?? { calls: 0, failureRate: 0 }
    return {
      state: this.breaker?.name ?? 'closed',
      failureRate: counts.failureRate,
      windowCalls: counts.calls,
      ...this.#counters,
      budgetLeft: this.settings.retry.attempts > 1 || this.settings.hedge !== undefined ? this.budget.left() : 0,
      inFlight: this.bulkhead?.active ?? 0,
      queued: this.bulkhead?.queued ?? 0,
      openRemainingMs: this.breaker?.openRemainingMs() ?? 0,
    }
  }

  /**
   * Makes the call under every policy; answers its value, a fallback's
   * (calling `onDegraded`), or throws a dependency error, or the caller's
   * own abort reason when the caller gave up.
   */
  execute<T> (plan: CallPlan<T>, caller: CallerContext, onDegraded: (failure: DependencyFailure) => void): Promise<T> {
    this.#counters.calls++
    const answer = plan.coalesce && plan.idempotent ? this.#coalesced(plan, caller) : this.#run(plan, caller)
    // Without a fallback the call's own promise is the answer: no layer around it.
    const fallback = plan.fallback
    if (fallback === undefined) return answer
    return answer.catch(async (error: unknown) => {
      if (!isDependencyError(error) || error.dependency !== this.name) throw error
      const failure = (error as unknown as { failure: DependencyFailure }).failure
      const value = await this.#fallback(plan, fallback, failure)
      if (value === NO_ANSWER) throw error
      this.#counters.fallbacks++
      onDegraded(failure)
      return value as T
    })
  }

  async #coalesced<T> (plan: CallPlan<T>, caller: CallerContext): Promise<T> {
    let joined = false
    let value: T
    try {
      value = await (this.#coalescer.run(plan.key, caller.signal, () => caller.remainingMs(), (shared) => {
        return this.#run(plan, signalCaller(shared.signal, shared.remainingMs, () => sharedHeaders(caller.headers(), shared.remainingMs())))
      }, () => { joined = true }) as Promise<T>)
    } catch (error) {
      // Its failure, or the caller's leaving it: either way no call of its own.
      if (joined) this.#counters.coalesced++
      throw error
    }
    if (!joined) return value
    // An answer too large to share went to the caller that started the call; the others make their own.
    if (plan.shareable?.(value) === false) return await this.#run(plan, caller)
    this.#counters.coalesced++
    return value
  }

  async #fallback<T> (plan: CallPlan<T>, fallback: ResolvedFallback, failure: DependencyFailure): Promise<T | typeof NO_ANSWER> {
    if (fallback.kind === 'value') return plan.fromFallback(fallback.value)
    if (fallback.kind === 'function') return plan.fromFallback(await fallback.fn(failure))
    if (plan.key === '') return NO_ANSWER
    const stored = this.#lastGood.get(plan.key, this.settings.clock.now(), fallback.maxAgeMs)
    return stored === undefined ? NO_ANSWER : stored.value as T
  }

  async #run<T> (plan: CallPlan<T>, caller: CallerContext): Promise<T> {
    const retries = (plan.idempotent || plan.keyed) && plan.replayable !== false ? this.settings.retry.attempts - 1 : 0
    // A call earns its share of retries once its first attempt goes out: a
    // call refused by the breaker or a full bulkhead made none.
    const earns = retries > 0 || this.settings.hedge !== undefined
    const headers: Record<string, string> = {}
    if (plan.keyed && this.settings.idempotencyKeys !== undefined) headers[this.settings.idempotencyKeys.header] = plan.idempotencyKey ?? randomUUID()
    let backoff: IBackoff<unknown> | undefined
    let last: DependencyFailure | undefined
    for (let attempt = 0; ; attempt++) {
      const admission = this.breaker?.admit() ?? CALL
      if (admission.kind === 'rejected') {
        this.#counters.rejections++
        throw this.#error(last ?? { dependency: this.name, reason: 'breaker-open', retryAfterMs: admission.retryAfterMs })
      }
      const outcome = await this.#attemptInBulkhead(plan, caller, headers, admission, earns && attempt === 0)
      // A streamed answer is recorded when its body ends: a reset half-way through is a failure.
      const watched = outcome.kind === 'value' ? this.#watch(plan, outcome.value, admission, caller) : undefined
      if (watched === undefined) this.breaker?.record(admission, resultOf(outcome))
      switch (outcome.kind) {
        case 'value':
          // A call without a key cannot be told from another user's: it has no last good answer.
          if (plan.fallback?.kind === 'last-good' && plan.key !== '' && plan.shareable?.(outcome.value) !== false) this.#lastGood.set(plan.key, outcome.value, this.settings.clock.now())
          return watched ?? outcome.value
        case 'error':
          throw outcome.error
        case 'abandoned':
          throw outcome.error
        case 'timeout':
          this.#counters.timeouts++
          this.#counters.failures++
          last = failureOf(this.name, { reason: 'timeout', ...(outcome.injected === true ? { injected: true } : {}) })
          break
        case 'failure':
          if (outcome.busy === true) {
            // A key in use: the dependency still runs an earlier attempt,
            // which is no failure of it; if no later attempt gets its
            // answer, the outcome is unknown, a timeout.
            last = failureOf(this.name, { reason: 'timeout', ...(outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs }) })
          } else {
            last = failureOf(this.name, outcome)
            this.#counters.failures++
          }
          break
      }
      if (attempt >= retries) throw this.#error(last)
      // A wait longer than the cap fails now rather than hold the request (without a deadline, for up to an hour).
      if ((last.retryAfterMs ?? 0) > this.settings.retry.maxDelayMs) throw this.#error(last)
      backoff = backoff === undefined ? this.#backoff.next() : backoff.next(undefined)
      const waitMs = Math.max(backoff.duration, last.retryAfterMs ?? 0)
      if (!this.#mayRetry(caller, waitMs)) throw this.#error(last)
      try {
        await sleep(waitMs, caller.signal)
      } catch (error) {
        // The caller gave up during the wait: the retry never went out, so
        // it neither counts nor spends the budget that held it.
        this.budget.refund()
        throw error
      }
      this.#counters.retries++
    }
  }

  /**
   * Records a streamed answer once its body ends: a success, or, if reading
   * it fails (a reset half-way through), a failure surfaced as
   * dependency-failed. The caller's own abort (deadline, client gone) is
   * passed on as it is and not counted. A body nobody reads counts as the
   * success it looked like once `timeoutMs` has passed, so a probe never
   * waits on it for ever; a failure after that is counted as one more.
   * Answers undefined, recording nothing, when there is no body to watch
   * (a buffered answer, an empty body): the attempt is then recorded once,
   * as it ended, by its caller.
   */
  #watch<T> (plan: CallPlan<T>, value: T, admission: Admission, caller: CallerContext): T | undefined {
    if (plan.watch === undefined) return undefined
    let recorded = false
    const record = (result: CallResult): void => {
      if (recorded) return
      recorded = true
      if (timer !== undefined) clearTimeout(timer)
      this.breaker?.record(admission, result)
    }
    const timer = this.breaker === undefined ? undefined : setTimeout(() => { record('success') }, this.settings.timeoutMs)
    // Unref'd: the breaker's bookkeeping, which no request waits on (the
    // answer is already the caller's); it must not keep a process alive
    // that has nothing else left to do.
    timer?.unref()
    const watched = plan.watch(value, (failure) => {
      if (failure === undefined) {
        record('success')
        return undefined
      }
      if (caller.aborted) {
        record('ignored')
        return failure.cause
      }
      this.#counters.failures++
      if (recorded) this.breaker?.record(CALL, 'failure')
      else record('failure')
      return this.#error({ dependency: this.name, reason: 'network', cause: failure.cause })
    })
    if (watched === undefined) clearTimeout(timer)
    return watched
  }

  /** A retry starts only if the breaker is not open, the deadline leaves time for a usual answer after the wait, and the budget allows it. */
  #mayRetry (caller: CallerContext, waitMs: number): boolean {
    if (this.breaker?.name === 'open') return false
    const usualMs = this.latency.quantile(0.5) ?? this.#failedAttemptMs ?? 0
    if (caller.remainingMs() - waitMs <= usualMs) return false
    return this.budget.tryWithdraw()
  }

  // Not async, nor the hedge-free #attemptHedged: an async layer that
  // only awaits the next one costs a promise, a frame and a reaction per
  // call, and a call crosses several such layers.
  // `earns`: the attempt, once it goes out, is a call the retry budget counts.
  #attemptInBulkhead<T> (plan: CallPlan<T>, caller: CallerContext, headers: Record<string, string>, admission: Admission, earns: boolean): Promise<Outcome<T>> {
    const bulkhead = this.bulkhead
    if (bulkhead === undefined) {
      if (earns) this.budget.deposit()
      return this.#attemptHedged(plan, caller, headers)
    }
    // A free slot is taken at once; only a call that must queue waits on the caller's signal.
    const release = bulkhead.tryAcquire()
    if (release === undefined) return this.#attemptQueued(bulkhead, plan, caller, headers, admission, earns)
    if (earns) this.budget.deposit()
    return this.#attemptHolding(release, plan, caller, headers)
  }

  async #attemptQueued<T> (bulkhead: Bulkhead, plan: CallPlan<T>, caller: CallerContext, headers: Record<string, string>, admission: Admission, earns: boolean): Promise<Outcome<T>> {
    let release: () => void
    try {
      const slot = bulkhead.acquire(caller.signal)
      if (slot === BULKHEAD_FULL) {
        this.#counters.rejections++
        this.breaker?.record(admission, 'ignored')
        throw this.#error({ dependency: this.name, reason: 'bulkhead-full', retryAfterMs: 1000 })
      }
      release = await slot
    } catch (error) {
      if (isDependencyError(error)) throw error
      return { kind: 'abandoned', error }
    }
    if (earns) this.budget.deposit()
    return await this.#attemptHolding(release, plan, caller, headers)
  }

  /**
   * The attempt under a bulkhead slot, given back once the attempt ends:
   * an attempt given up on (its timeout, the deadline, a hedge that won)
   * whose client ignores its signal still runs, and holds the slot until
   * it settles, so that the bulkhead bounds what the dependency is sent.
   */
  async #attemptHolding<T> (release: () => void, plan: CallPlan<T>, caller: CallerContext, headers: Record<string, string>): Promise<Outcome<T>> {
    const lingering: Array<Promise<unknown>> = []
    try {
      return await this.#attemptHedged(plan, caller, headers, lingering)
    } finally {
      if (lingering.length === 0) release()
      else Promise.allSettled(lingering).then(release, release)
    }
  }

  /** With hedging: a second attempt after the observed percentile without an answer; the first answer wins, the other is cancelled. */
  // `lingering`: where an attempt given up on while its call still runs is put (see #attemptHolding).
  #attemptHedged<T> (plan: CallPlan<T>, caller: CallerContext, headers: Record<string, string>, lingering?: Array<Promise<unknown>>): Promise<Outcome<T>> {
    const hedge = this.settings.hedge
    if (hedge === undefined || !plan.idempotent) return this.#attempt(plan, caller, headers, undefined, lingering)
    return this.#hedged(hedge, plan, caller, headers, lingering)
  }

  async #hedged<T> (hedge: NonNullable<ResolvedDependency['hedge']>, plan: CallPlan<T>, caller: CallerContext, headers: Record<string, string>, lingering: Array<Promise<unknown>> | undefined): Promise<Outcome<T>> {
    const delayMs = this.latency.quantile(hedge.percentile, MAX_SAMPLES_BEFORE_HEDGE) ?? hedge.delayMs
    const first = new AbortController()
    const second = new AbortController()
    const firstStartedAt = this.settings.clock.now()
    return await new Promise<Outcome<T>>((resolve) => {
      let running = 1
      let hedged = false
      let done = false
      let failed: Outcome<T> | undefined
      const race = (outcome: Outcome<T>, other: AbortController): void => {
        if (done) return
        running--
        const answered = outcome.kind === 'value' || outcome.kind === 'error'
        if (!answered && running > 0) {
          failed ??= outcome
          return
        }
        done = true
        // A first attempt the hedge beat is a slow call the samples must still see (as long as it
        // ran, a lower bound): with only the winners' latencies, the percentile that decides when
        // to hedge would drift down into the fast calls, and hedges would grow past the slow share.
        if (other === first && answered) this.latency.add(this.settings.clock.now() - firstStartedAt)
        other.abort(HEDGE_LOST)
        resolve(answered ? outcome : failed ?? outcome)
      }
      const timer = setTimeout(() => {
        if (done || caller.aborted || !this.budget.tryWithdraw()) return
        hedged = true
        this.#counters.hedges++
        running++
        this.#attempt(plan, caller, headers, second.signal, lingering).then((outcome) => { race(outcome, first) }, (cause: unknown) => { race({ kind: 'failure', reason: 'network', cause }, first) })
      }, delayMs)
      // Not unref'd: the request waits on it to send the hedge, as it
      // waits on the attempt timeout. It is cleared once the first attempt
      // settles unhedged (otherwise it has already run), so it never holds
      // a process whose request has been answered.
      const firstSettled = (outcome: Outcome<T>): void => {
        // Before the hedge is sent, the first attempt's outcome is final.
        if (!hedged) {
          clearTimeout(timer)
          done = true
          resolve(outcome)
          return
        }
        race(outcome, second)
      }
      this.#attempt(plan, caller, headers, first.signal, lingering).then(firstSettled, (cause: unknown) => { firstSettled({ kind: 'failure', reason: 'network', cause }) })
    })
  }

  /** One attempt, bounded by the attempt timeout and the caller's deadline (the longest of a coalesced call's callers). */
  async #attempt<T> (plan: CallPlan<T>, caller: CallerContext, headers: Record<string, string>, cancel: AbortSignal | undefined, lingering?: Array<Promise<unknown>>): Promise<Outcome<T>> {
    const remainingMs = caller.remainingMs()
    if (caller.aborted || remainingMs <= 0) return { kind: 'abandoned', error: caller.reason ?? this.#error({ dependency: this.name, reason: 'timeout' }) }
    // When the caller's deadline is what cuts the attempt short, its end is
    // not the dependency's fault: the deadline's own signal ends the attempt
    // (and answers 504 deadline-exceeded); this timer is only a backstop.
    const controller = new AbortController()
    const signal = controller.signal
    caller.follow(controller)
    let answered = false
    const onCancel = (): void => { controller.abort(HEDGE_LOST) }
    cancel?.addEventListener('abort', onCancel, { once: true })
    // A coalesced call's deadline grows when a caller with a longer one
    // joins: the backstop re-reads it before it cuts the attempt.
    const startedAt = this.settings.clock.now()
    const startedAtMs = performance.now()
    let byDeadline = false
    let timer: NodeJS.Timeout | undefined
    const arm = (): void => {
      const leftMs = this.settings.timeoutMs - (performance.now() - startedAtMs)
      const deadlineMs = caller.remainingMs()
      byDeadline = deadlineMs < leftMs
      const waitMs = byDeadline ? deadlineMs + DEADLINE_BACKSTOP_MS : leftMs
      if (waitMs <= 0) {
        controller.abort(TIMED_OUT)
        return
      }
      // Not unref'd: the request waits on the attempt, and for an attempt
      // that holds nothing open itself (a `call()` whose function only
      // waits for its signal) this timer is what ends it, as Node's fetch
      // keeps the process alive for its own timeout. Cleared when the
      // attempt settles (finally, below).
      timer = setTimeout(byDeadline ? arm : () => { controller.abort(TIMED_OUT) }, waitMs)
    }
    arm()
    this.#counters.attempts++
    let fault: InjectedFault | undefined
    // Set while the fault's delay or hang holds the attempt: a timeout then is the fault's.
    let heldByFault = false
    let call: Promise<AttemptResult<T>> | undefined
    try {
      const attemptHeaders = { ...caller.headers(), ...headers }
      fault = this.#faults?.()
      let result: AttemptResult<T> | undefined
      if (fault?.type === 'error') {
        result = { kind: 'failure', reason: 'status', status: fault.status, injected: true }
      } else if (fault?.type === 'exception') {
        result = { kind: 'failure', reason: 'network', cause: new Error('chaos: injected dependency exception'), injected: true }
      } else if (fault !== undefined) {
        // A delay or a hang; the kill switch ends it early and the call goes on.
        heldByFault = true
        await sleep(fault.type === 'hang' ? MAX_HANG_MS : fault.ms, AbortSignal.any([signal, fault.ended])).catch((error: unknown) => {
          if (signal.aborted) throw error
        })
        heldByFault = false
      }
      if (result === undefined) {
        call = plan.attempt(signal, attemptHeaders)
        result = await (plan.honoursSignal === true ? call : raceAbort(call, signal))
      }
      if (result.kind === 'value') {
        this.latency.add(this.settings.clock.now() - startedAt)
        answered = true
      } else {
        this.#failedAttemptMs = this.settings.clock.now() - startedAt
      }
      return result
    } catch (error) {
      if (!signal.aborted) {
        this.#failedAttemptMs = this.settings.clock.now() - startedAt
        return { kind: 'failure', reason: 'network', cause: error }
      }
      // Given up on, and raced rather than ended by its signal: it may run on.
      if (call !== undefined && plan.honoursSignal !== true) lingering?.push(call)
      const reason: unknown = signal.reason
      if (reason !== TIMED_OUT) return { kind: 'abandoned', error: reason }
      if (byDeadline) return { kind: 'abandoned', error: caller.reason ?? this.#error({ dependency: this.name, reason: 'timeout' }) }
      this.#failedAttemptMs = this.settings.clock.now() - startedAt
      return heldByFault ? { kind: 'timeout', injected: true } : { kind: 'timeout' }
    } finally {
      fault?.end()
      clearTimeout(timer)
      cancel?.removeEventListener('abort', onCancel)
      // A streamed body is read after this returns: an answered attempt keeps following the caller's deadline.
      if (!answered) caller.unfollow(controller)
    }
  }

  #error (failure: DependencyFailure): Error {
    const error = dependencyError(failure, this.settings.timeoutMs)
    Object.defineProperty(error, 'failure', { value: failure, enumerable: false })
    return error
  }
}

const NEVER_ABORTED: AbortSignal = new AbortController().signal
function ignore (): void {}

/** A caller without a deadline: never gives up, follows nothing. */
export const UNBOUNDED_CALLER: CallerContext = Object.freeze({
  signal: NEVER_ABORTED,
  aborted: false,
  reason: undefined,
  follow: ignore,
  unfollow: ignore,
  remainingMs: () => Number.POSITIVE_INFINITY,
  headers: () => ({}),
})

const CALL: Admission = Object.freeze({ kind: 'call' })
const HEDGE_LOST = new DOMException('another attempt of the same call answered first', 'AbortError')

function resultOf (outcome: Outcome<unknown>): CallResult {
  switch (outcome.kind) {
    case 'value':
    case 'error':
      return 'success'
    case 'abandoned':
      return 'ignored'
    case 'failure':
      return outcome.busy === true ? 'ignored' : 'failure'
    default:
      return 'failure'
  }
}

function failureOf (dependency: string, outcome: { reason: FailureReason, status?: number, retryAfterMs?: number, cause?: unknown, injected?: boolean }): DependencyFailure {
  const failure: DependencyFailure = { dependency, reason: outcome.reason }
  if (outcome.status !== undefined) failure.status = outcome.status
  if (outcome.retryAfterMs !== undefined) failure.retryAfterMs = outcome.retryAfterMs
  if (outcome.cause !== undefined) failure.cause = outcome.cause
  if (outcome.injected === true) failure.injected = true
  return failure
}

/** The budget header of a shared call carries the longest wait among its callers. */
function sharedHeaders (headers: Record<string, string>, remainingMs: number): Record<string, string> {
  const shared: Record<string, string> = {}
  for (const name of Object.keys(headers)) shared[name] = String(Math.floor(remainingMs))
  return shared
}
