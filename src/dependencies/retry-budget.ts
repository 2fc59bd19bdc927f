import type { Clock } from '../clock.js'
import { SlidingCounts } from './window.js'

/** How many retries a dependency may spend. @see {@link RetryBudget} */
export interface RetryBudgetOptions {
  /** Retries allowed per call made, over the window. @default 0.1 */
  ratio?: number
  /** Retries allowed per second whatever the traffic, so a quiet service can still retry. @default 5 */
  minPerSecond?: number
  /** The sliding window the ratio is measured over. @default 10_000 */
  windowMs?: number
}

/**
 * A retry budget in Finagle's manner: over a sliding window, retries (and
 * hedges) may be at most `ratio` of the calls, plus `minPerSecond` for
 * every second of the window. When a dependency fails, retries stop adding
 * load once the budget is spent instead of multiplying the outage.
 */
export class RetryBudget {
  readonly #ratio: number
  readonly #floor: number
  // first: calls; second: retries spent.
  readonly #counts: SlidingCounts

  constructor (options: Required<RetryBudgetOptions>, clock: Clock) {
    this.#ratio = options.ratio
    this.#floor = options.minPerSecond * options.windowMs / 1000
    this.#counts = new SlidingCounts(options.windowMs, clock)
  }

  /** Counts a call (not a retry): it earns `ratio` of a retry. */
  deposit (): void {
    this.#counts.addFirst()
  }

  /** Spends one retry if the budget allows it; answers whether it did. */
  tryWithdraw (): boolean {
    if (this.left() < 1) return false
    this.#counts.addSecond()
    return true
  }

  /** Gives back a retry withdrawn for an attempt that never went out. */
  refund (): void {
    this.#counts.addSecond(-1)
  }

  /** Whole retries left in the window. */
  left (): number {
    const { first: calls, second: retries } = this.#counts.totals()
    return Math.max(0, Math.floor(this.#floor + this.#ratio * calls - retries))
  }
}
