import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import type { Objective, Sli } from './objective.js'
import { SliCounter } from './sli-counter.js'
import { evaluateSli } from './status.js'
import type { BudgetState, EvaluationSettings, SliStatus } from './status.js'

/** A transition of an indicator's state, passed to state-change listeners. */
export interface StateChange {
  name: string
  sli: Sli
  from: BudgetState
  to: BudgetState
  status: SliStatus
}

/** One indicator being counted. */
export interface TrackedSli {
  readonly objective: Objective
  readonly counter: SliCounter
  /** The longest span read: the SLO window or the longest alert window, whichever is longer. */
  readonly spanMs: number
  state: BudgetState
}

function describeObjectives (objectives: readonly Objective[]): string {
  return objectives.map((objective) => `${objective.sli} ${objective.target}${objective.thresholdMs === undefined ? '' : ` within ${objective.thresholdMs} ms`} over ${objective.windowMs / 86_400_000} d`).join(', ')
}

/**
 * The SLOs of an application: their counters, their evaluation, and the
 * listeners told when an indicator changes state (once per transition).
 */
export class ErrorBudgetTracker {
  readonly #settings: EvaluationSettings
  readonly #byName = new Map<string, TrackedSli[]>()
  readonly #listeners = new Set<(change: StateChange) => void>()
  readonly #onListenerError: (error: unknown) => void

  constructor (settings: EvaluationSettings, onListenerError: (error: unknown) => void) {
    this.#settings = settings
    this.#onListenerError = onListenerError
  }

  /**
   * Declares an SLO's indicators, or returns those already declared under
   * its name; declaring a name twice with different objectives is refused
   * (with `conflict`'s error when given, an invalid option otherwise).
   */
  declare (objectives: readonly Objective[], where: string, conflict?: (expected: string, got: string) => Error): readonly TrackedSli[] {
    const name = objectives[0]?.name ?? ''
    const existing = this.#byName.get(name)
    if (existing !== undefined) {
      const before = describeObjectives(existing.map((tracked) => tracked.objective))
      const now = describeObjectives(objectives)
      if (before !== now) {
        const expected = `the objectives SLO '${name}' was declared with (${before})`
        throw conflict?.(expected, now) ?? new FRS_ERR_OPTION_INVALID(where, expected, now)
      }
      return existing
    }
    const longestRuleMs = Math.max(0, ...this.#settings.rules.map((rule) => rule.longWindowMs))
    const tracked = objectives.map((objective) => {
      const spanMs = Math.max(objective.windowMs, longestRuleMs)
      return { objective, counter: new SliCounter(spanMs), spanMs, state: 'ok' as BudgetState }
    })
    this.#byName.set(name, tracked)
    return tracked
  }

  /** The declared SLO names. */
  names (): string[] {
    return [...this.#byName.keys()]
  }

  /** Every declared indicator. */
  all (): TrackedSli[] {
    return [...this.#byName.values()].flat()
  }

  /** Evaluates every indicator at `now` and tells the listeners of each state that changed. */
  evaluate (now: number): SliStatus[] {
    return this.all().map((tracked) => this.#evaluateOne(tracked, now))
  }

  /**
   * Evaluates every indicator at `now` as {@link evaluate} does, `perTurn`
   * of them per turn of the event loop: with a thousand SLOs, one turn
   * for all of them would hold every request for tens of milliseconds.
   * Stops between turns once `signal` is aborted.
   */
  async evaluateInTurns (now: number, perTurn: number, signal?: AbortSignal): Promise<void> {
    const all = this.all()
    for (let start = 0; start < all.length; start += perTurn) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve))
      if (signal?.aborted === true) return
      for (const tracked of all.slice(start, start + perTurn)) this.#evaluateOne(tracked, now)
    }
  }

  #evaluateOne (tracked: TrackedSli, now: number): SliStatus {
    const status = evaluateSli(tracked.objective, tracked.counter, this.#settings, now)
    if (status.state === tracked.state) return status
    const change: StateChange = { name: status.name, sli: status.sli, from: tracked.state, to: status.state, status }
    tracked.state = status.state
    for (const listener of this.#listeners) {
      try {
        listener(change)
      } catch (error) {
        this.#onListenerError(error)
      }
    }
    return status
  }

  /** Adds a state-change listener; returns a function that removes it. */
  onStateChange (listener: (change: StateChange) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }
}
