import { atEndOfTurn } from '../end-of-turn.js'
import type { Priority } from './priority.js'

/**
 * How far into a lagging turn each class may still be admitted, as a
 * multiple of the target. `low` only gets a turn's first slot, and only
 * after a turn that kept within the target; `critical` is never shed for
 * lag: only its concurrency limit bounds it.
 */
const TURN_ALLOWANCE: Readonly<Record<Priority, number>> = Object.freeze({ low: 0, normal: 1, high: 2, critical: Infinity })

export interface LoopLagSettings {
  /** A turn of the event loop longer than this counts as lagging, in milliseconds. */
  targetMs: number
  /** Shedding starts once turns have lagged for this long without a break, in milliseconds. */
  intervalMs: number
}

/** Lag within this many intervals of the last episode resumes shedding at once. */
const RELAPSE_INTERVALS = 10

/**
 * Detects CPU overload at the moment a request is admitted, after CoDel
 * (Nichols and Jacobson): a queue is bad when even its shortest delay stays
 * above a target for a whole interval.
 *
 * A Node.js server's queue is the event loop: requests that arrive while a
 * turn runs wait in the kernel until the next one, so a request seen `e`
 * milliseconds into a turn waited about `e` plus the previous turn. The
 * first admission of a turn opens it and closes it at the end of the turn
 * (setImmediate); nothing runs while the server is idle. Once every turn has run
 * longer than `targetMs` for `intervalMs`, each turn admits requests until
 * it has run for its allowance (the first slot for `low`, and only after a
 * turn within the target; the target for `normal`, twice the target for
 * `high`; `critical` is never shed here) and sheds the rest,
 * which keeps turns short and the admitted requests fast. Long turns
 * between short ones (a burst, a slow JSON.stringify, a garbage
 * collection) shed nothing, however often they come; lagging ends after
 * an interval of short turns, or at once when the loop has a pause, and
 * lag that comes back within ten intervals of such an overload resumes
 * shedding at once: from the moment a turn runs past the target, not from
 * the end of that turn.
 */
export class LoopLagDetector {
  readonly #targetMs: number
  readonly #intervalMs: number
  readonly #now: () => number
  #turnStartedAt: number | undefined
  #lastTurnEndedAt = -Infinity
  #laggingSince: number | undefined
  #calmSince: number | undefined
  /** From when requests are shed: an interval after lagging began, or at once if it ended only lately. */
  #sheddingFrom = Infinity
  #laggingEndedAt = -Infinity
  /** Every turn lagged for an interval (a turn that began once shedding had begun ran past the target): an overload, which ends only after an interval of short turns. */
  #overloaded = false
  #lastTurnMs = 0
  readonly #closeTurn = (): void => {
    const now = this.#now()
    const started = this.#turnStartedAt ?? now
    if (now - started > this.#targetMs) {
      if (this.#laggingSince === undefined) {
        this.#laggingSince = started
        // Lag that returns soon after it ended is the same overload: shed
        // at once instead of letting another interval's backlog build up.
        this.#sheddingFrom = this.#soonAfterEpisode(started) ? started : started + this.#intervalMs
      }
      if (started >= this.#sheddingFrom) this.#overloaded = true
      this.#calmSince = undefined
    } else if (!this.#overloaded) {
      // Not an overload (yet): every turn of an interval has to lag, as
      // CoDel asks of every delay. A short turn means the loop caught up,
      // so lone long turns (a garbage collection, a slow JSON.stringify,
      // a moment descheduled) shed nothing however often they come. It
      // also ends a turn watched for a relapse that stayed short.
      this.#laggingSince = undefined
      this.#sheddingFrom = Infinity
    } else {
      // A short turn in the middle of an overload is usually a lull, not
      // the end: lagging ends after a whole interval of short turns.
      this.#calmSince ??= started
      if (now - this.#calmSince >= this.#intervalMs) this.#endLagging(now)
    }
    this.#turnStartedAt = undefined
    this.#lastTurnEndedAt = now
    this.#lastTurnMs = now - started
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
      this.#openTurn(now)
      // When higher classes alone keep the turns long, a low request in
      // every turn's first slot would be the work that tips the loop into
      // a backlog that grows without end, and the critical requests queued
      // behind it would wait seconds.
      return priority === 'low' && now >= this.#sheddingFrom && this.#lastTurnMs > this.#targetMs
    }
    if (now < this.#sheddingFrom) return false
    return now - startedAt > this.#targetMs * TURN_ALLOWANCE[priority]
  }

  #openTurn (now: number): void {
    // A pause between turns means the loop caught up.
    if (now - this.#lastTurnEndedAt > this.#targetMs) {
      this.#endLagging(this.#lastTurnEndedAt)
      this.#calmSince = undefined
    }
    // Soon after an episode, a turn that runs past the target is the same
    // overload coming back: it sheds from then on. Otherwise it would admit
    // everything it holds (the backlog of a pause the process spent
    // descheduled, or in a GC) before it ends and counts as lagging.
    if (this.#laggingSince === undefined && this.#soonAfterEpisode(now)) {
      this.#sheddingFrom = now + this.#targetMs
    }
    this.#turnStartedAt = now
    atEndOfTurn(this.#closeTurn)
  }

  /** Whether `at` is within ten intervals of the end of the last episode: lag then is the same overload. */
  #soonAfterEpisode (at: number): boolean {
    return at - this.#laggingEndedAt < RELAPSE_INTERVALS * this.#intervalMs
  }

  #endLagging (at: number): void {
    if (this.#laggingSince === undefined) return
    this.#laggingSince = undefined
    this.#sheddingFrom = Infinity
    // Only an overload is watched for a relapse.
    if (this.#overloaded) this.#laggingEndedAt = at
    this.#overloaded = false
  }

  /**
   * Milliseconds the loop has been lagging, 0 when it is not. A pause since
   * the last turn ended the lag, as the next turn would find: an idle
   * server read between requests is not lagging.
   */
  laggingForMs (now: number): number {
    const turnStartedAt = this.#turnStartedAt
    if (this.#laggingSince === undefined) {
      // Lag come back soon after an overload sheds from within the turn
      // that runs past the target, before that turn ends and counts: the
      // turn is the lag so far.
      return turnStartedAt !== undefined && now >= this.#sheddingFrom ? now - turnStartedAt : 0
    }
    if (turnStartedAt === undefined && now - this.#lastTurnEndedAt > this.#targetMs) return 0
    return now - this.#laggingSince
  }
}
