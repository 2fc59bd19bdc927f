import type { Priority } from './priority.js'

/** How far into a turn each class may still be admitted, as a multiple of the target. */
const TURN_ALLOWANCE: Readonly<Record<Priority, number>> = Object.freeze({ low: 0.5, normal: 1, high: 2, critical: 4 })

export interface LoopLagSettings {
  /** A turn of the event loop longer than this counts as lagging, in milliseconds. */
  targetMs: number
  /** Shedding starts once turns have lagged for this long without a break, in milliseconds. */
  intervalMs: number
}

/**
 * Detects CPU overload at the moment a request is admitted, after CoDel
 * (Nichols and Jacobson): a queue is bad when even its shortest delay stays
 * above a target for a whole interval.
 *
 * A Node.js server's queue is the event loop: requests that arrive while a
 * turn runs wait in the kernel until the next one, so a request seen `e`
 * milliseconds into a turn waited about `e` plus the previous turn. The
 * first admission of a turn opens it and schedules `setImmediate` to close
 * it; nothing runs while the server is idle. Once every turn has run
 * longer than `targetMs` for `intervalMs`, each turn admits requests until
 * it has run for its allowance (half the target for `low`, the target for
 * `normal`, twice for `high`, four times for `critical`) and sheds the rest,
 * which keeps turns short and the admitted requests fast. A single long
 * turn (a burst, a slow JSON.stringify) sheds nothing.
 */
export class LoopLagDetector {
  readonly #targetMs: number
  readonly #intervalMs: number
  readonly #now: () => number
  #turnStartedAt: number | undefined
  #lastTurnEndedAt = -Infinity
  #laggingSince: number | undefined
  readonly #closeTurn = (): void => {
    const now = this.#now()
    const started = this.#turnStartedAt ?? now
    if (now - started > this.#targetMs) this.#laggingSince ??= started
    else this.#laggingSince = undefined
    this.#turnStartedAt = undefined
    this.#lastTurnEndedAt = now
  }

  constructor (settings: LoopLagSettings, now: () => number) {
    this.#targetMs = settings.targetMs
    this.#intervalMs = settings.intervalMs
    this.#now = now
  }

  /**
   * Whether a request of `priority` arriving at `now` should be shed.
   * Called once per request; it also opens the turn.
   */
  shouldShed (priority: Priority, now: number): boolean {
    const startedAt = this.#turnStartedAt
    if (startedAt === undefined) {
      // A pause between turns means the loop caught up.
      if (now - this.#lastTurnEndedAt > this.#targetMs) this.#laggingSince = undefined
      this.#turnStartedAt = now
      setImmediate(this.#closeTurn)
      return false
    }
    const laggingSince = this.#laggingSince
    if (laggingSince === undefined || now - laggingSince < this.#intervalMs) return false
    return now - startedAt > this.#targetMs * TURN_ALLOWANCE[priority]
  }

  /** Milliseconds the loop has been lagging, 0 when it is not. */
  laggingForMs (now: number): number {
    return this.#laggingSince === undefined ? 0 : now - this.#laggingSince
  }
}
