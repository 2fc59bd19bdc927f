import type { Clock } from '../clock.js'
import { describeValue } from '../describe.js'
import { FRS_ERR_CLIENT_CLOSED, FRS_ERR_DEADLINE_CHILD_INVALID, FRS_ERR_DEADLINE_EXCEEDED } from '../errors.js'
import { carryProblem } from '../problem/problem-error.js'
import { MAX_TIMER_MS } from './budget.js'
import { withDeadline } from './fetch.js'
import type { DeadlineQueue } from './queue.js'

/** How a request's deadline ended, if it has. */
export type DeadlineOutcome = 'pending' | 'finished' | 'deadline-exceeded' | 'client-closed'

/** What a handler sees as `request.deadline`. */
export interface RequestDeadline {
  /** The budget this deadline started with, in milliseconds (`Infinity` when the route opted out). */
  readonly timeoutMs: number
  /** Milliseconds left, never negative. */
  remainingMs: () => number
  /** True once the time is up. */
  readonly expired: boolean
  /** `pending` until the response is finished, the deadline passes or the client goes away. */
  readonly outcome: DeadlineOutcome
  /**
   * Aborts at the deadline (reason: `FRS_ERR_DEADLINE_EXCEEDED`) or when
   * the client goes away (reason: `FRS_ERR_CLIENT_CLOSED`); never when a
   * request body has merely been read.
   */
  readonly signal: AbortSignal
  /** The header to forward downstream, carrying the remaining budget. Empty without a deadline. */
  headers: () => Record<string, string>
  /**
   * A sub-budget of at most `maxMs` (0 or more; `Infinity` for all the time
   * this deadline has left) that also ends when this deadline does.
   * @throws FRS_ERR_DEADLINE_CHILD_INVALID (a TypeError) for NaN, a negative number or a non-number
   */
  child: (maxMs: number) => ChildDeadline
  /** `fetch` with this deadline's signal and header applied. */
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>
}

/** A sub-budget; `dispose()` clears its timer early when the work it guards is done. */
export interface ChildDeadline extends RequestDeadline {
  /** Clears the sub-budget's timer; call it when the work it guards is done. */
  dispose: () => void
}

export interface DeadlineOptions {
  timeoutMs: number
  /** When the budget started, by `clock`; defaults to now. */
  startedAt?: number
  /** Name of the header that {@link RequestDeadline.headers} fills. */
  forwardHeader: string
  clock: Clock
  /** Counts how this deadline ends badly (the route's metrics); a request's own deadline only. */
  tally?: DeadlineEndings | undefined
}

/** Plain counts of deadlines that expired or whose client left, read by the metrics at scrape time. */
export interface DeadlineEndings {
  expired: number
  clientClosed: number
}

/**
 * A request's deadline: one timer at most (or a place in a shared
 * {@link DeadlineQueue}), an AbortSignal made only when someone asks for
 * it, and sub-budgets that follow it. The plugin drives it through
 * `start` or `join`, `finish` and `clientClosed`.
 */
export class Deadline implements ChildDeadline {
  readonly timeoutMs: number
  readonly expiresAt: number
  readonly #clock: Clock
  readonly #forwardHeader: string
  readonly #tally: DeadlineEndings | undefined
  #outcome: DeadlineOutcome = 'pending'
  #controller: AbortController | undefined
  #reason: Error | undefined
  #timer: NodeJS.Timeout | undefined
  #queueEntry: { cancel: () => void } | undefined
  #children: Set<Deadline> | undefined
  #parent: Deadline | undefined
  #followers: Set<AbortController> | undefined

  constructor (options: DeadlineOptions) {
    this.timeoutMs = options.timeoutMs
    this.#clock = options.clock
    this.#forwardHeader = options.forwardHeader
    this.#tally = options.tally
    this.expiresAt = (options.startedAt ?? options.clock.now()) + options.timeoutMs
  }

  get outcome (): DeadlineOutcome {
    return this.#outcome
  }

  get expired (): boolean {
    return this.#outcome === 'deadline-exceeded' || this.remainingMs() === 0
  }

  get signal (): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Whether the deadline has passed or its client has gone; read without making {@link signal}. */
  get aborted (): boolean {
    return this.#reason !== undefined
  }

  /** Why the deadline aborted (`FRS_ERR_DEADLINE_EXCEEDED` or `FRS_ERR_CLIENT_CLOSED`), or undefined. */
  get reason (): Error | undefined {
    return this.#reason
  }

  /**
   * Makes `controller` abort with this deadline's reason until
   * {@link unfollow}, without making {@link signal}: an AbortSignal and a
   * listener on it cost several microseconds per outbound call on
   * Node 20, a place in a set costs next to nothing. A finished deadline
   * never aborts, so it keeps nothing.
   */
  follow (controller: AbortController): void {
    if (this.#reason !== undefined) {
      controller.abort(this.#reason)
      return
    }
    if (this.#outcome !== 'pending') return
    (this.#followers ??= new Set()).add(controller)
  }

  unfollow (controller: AbortController): void {
    this.#followers?.delete(controller)
  }

  remainingMs (): number {
    return Math.max(0, this.expiresAt - this.#clock.now())
  }

  headers (): Record<string, string> {
    return { [this.#forwardHeader]: String(Math.floor(this.remainingMs())) }
  }

  child (maxMs: number): ChildDeadline {
    const timeoutMs = Math.min(subBudgetCap(maxMs), this.remainingMs())
    const child = new Deadline({ timeoutMs, forwardHeader: this.#forwardHeader, clock: this.#clock })
    this.adopt(child)
    return child
  }

  /**
   * Starts `child`, a sub-budget not yet started, as one of this
   * deadline's: it ends when this one does, or at once if this one has.
   */
  adopt (child: Deadline): void {
    const outcome = this.#outcome
    if (outcome === 'finished') {
      child.finish()
      return
    }
    if (outcome !== 'pending') {
      child.#end(outcome, this.#reason as Error)
      return
    }
    child.#parent = this
    // Ended at once when it has no time, so it is never kept among the children.
    if (startSubBudget(child)) (this.#children ??= new Set()).add(child)
  }

  fetch (input: string | URL | Request, init?: RequestInit): Promise<Response> {
    // fetch(request, init) takes the init's headers and signal over the
    // request's own; the deadline's always come in the init, so a
    // Request's own are the base they are added to, or they would be lost.
    const base = input instanceof Request ? { headers: input.headers, signal: input.signal, ...init } : init
    return fetch(input, withDeadline(this, base))
  }

  dispose (): void {
    this.finish()
  }

  /**
   * Arms the single timer; `onExpire(context)` runs once if the time runs
   * out first. Passing the context instead of a closure keeps the hot path
   * free of a per-request function allocation.
   */
  start<Context> (onExpire: (context: Context) => void, context: Context): void {
    if (this.#outcome !== 'pending') return
    // Armed from the remaining time: arming may come later than the start.
    // Not unref'd: a request waits on it, and app.inject in a script or a
    // test has nothing else holding the process until the 504.
    this.#timer = setTimeout(onExpire, Math.max(1, Math.ceil(this.expiresAt - this.#clock.now())), context)
  }

  /**
   * Waits in a queue shared by deadlines of the same duration instead of
   * arming a timer of its own; the queue calls its `onExpire(context)`.
   */
  join<Context> (queue: DeadlineQueue<Context>, context: Context): void {
    if (this.#outcome !== 'pending') return
    this.#queueEntry = queue.add(context, this.expiresAt)
  }

  /** Marks the deadline as exceeded and aborts the signal and every sub-budget. */
  expire (): void {
    if (this.#outcome !== 'pending') return
    if (this.#tally !== undefined) this.#tally.expired++
    this.#end('deadline-exceeded', exceeded(this.timeoutMs, this.#parent !== undefined))
  }

  /** Marks the request as abandoned by its client and aborts the signal and every sub-budget. */
  clientClosed (): void {
    if (this.#outcome !== 'pending') return
    if (this.#tally !== undefined) this.#tally.clientClosed++
    this.#end('client-closed', new FRS_ERR_CLIENT_CLOSED())
  }

  /** The response is complete: clears the timers, aborts nothing. */
  finish (): void {
    if (this.#outcome !== 'pending') return
    this.#outcome = 'finished'
    this.#followers = undefined
    this.#clearTimer()
    // A disposed sub-budget leaves its parent, so many short ones do not pile up.
    const parent = this.#parent
    if (parent !== undefined) parent.#children?.delete(this)
    if (this.#children !== undefined) for (const child of this.#children) child.finish()
  }

  #end (outcome: 'deadline-exceeded' | 'client-closed', reason: Error): void {
    this.#outcome = outcome
    this.#reason = reason
    this.#clearTimer()
    this.#controller?.abort(reason)
    const followers = this.#followers
    this.#followers = undefined
    if (followers !== undefined) for (const follower of followers) follower.abort(reason)
    if (this.#children !== undefined) {
      for (const child of this.#children) if (child.#outcome === 'pending') child.#end(outcome, reason)
    }
  }

  #clearTimer (): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#queueEntry !== undefined) {
      this.#queueEntry.cancel()
      this.#queueEntry = undefined
    }
  }
}

function expireDeadline (deadline: Deadline): void {
  deadline.expire()
}

/**
 * The cap a sub-budget is asked for. Something that is no length of time
 * is a mistake in the caller's code: it throws, rather than giving a
 * sub-budget that has already run out. Infinity sets no cap of its own.
 */
function subBudgetCap (maxMs: unknown): number {
  if (typeof maxMs !== 'number' || !(maxMs >= 0)) throw new FRS_ERR_DEADLINE_CHILD_INVALID(describeValue(maxMs))
  return maxMs
}

/**
 * Arms a sub-budget's timer, and answers whether it is still running. One
 * with no time at all ends now: a timer fires a moment later at the
 * earliest, and until then `expired` would be true with the signal not
 * yet aborted.
 */
function startSubBudget (child: Deadline): boolean {
  if (child.timeoutMs > 0) {
    child.start(expireDeadline, child)
    return true
  }
  child.expire()
  return false
}

const NEVER_ABORTED = new AbortController().signal

/**
 * The deadline of a route that opted out: no budget, no timer, no header to
 * forward. Its sub-budgets are real deadlines of their own. Given `end`,
 * the request's end (a deadline without a time limit, never started, that
 * the plugin finishes with the response or ends when the client goes
 * away), its signal aborts when the client goes away, and its sub-budgets
 * end with the request, so that none of their timers outlives it.
 */
export function unboundedDeadline (forwardHeader: string, clock: Clock, end?: Deadline): RequestDeadline {
  return Object.freeze({
    timeoutMs: Number.POSITIVE_INFINITY,
    remainingMs: () => Number.POSITIVE_INFINITY,
    expired: false,
    get outcome (): DeadlineOutcome {
      return end?.outcome ?? 'pending'
    },
    get signal (): AbortSignal {
      return end?.signal ?? NEVER_ABORTED
    },
    headers: () => ({}),
    child: (maxMs: number): ChildDeadline => {
      // With no deadline above it, a sub-budget is as long as its cap, or
      // as a timer can hold: a longer timer fires after 1 ms.
      const child = new Deadline({ timeoutMs: Math.min(subBudgetCap(maxMs), MAX_TIMER_MS), forwardHeader, clock })
      if (end === undefined) startSubBudget(child)
      else end.adopt(child)
      return child
    },
    fetch: (input: string | URL | Request, init?: RequestInit) => fetch(input, init),
  })
}

/**
 * The reason a deadline aborts with when its time is up. It carries the
 * deadline-exceeded problem, so that a handler that throws it (a
 * sub-budget's, or a fetch it aborted) is answered with that type and the
 * time it had, as the request's own deadline is, rather than with a bare
 * 504.
 */
function exceeded (timeoutMs: number, subBudget: boolean): Error {
  const ms = Math.round(timeoutMs)
  return carryProblem(new FRS_ERR_DEADLINE_EXCEEDED(timeoutMs), {
    type: 'deadline-exceeded',
    detail: subBudget ? `Part of the request's work did not complete within the ${ms} ms it was given.` : `The request did not complete within its deadline of ${ms} ms.`,
    timeoutMs: ms,
  })
}
