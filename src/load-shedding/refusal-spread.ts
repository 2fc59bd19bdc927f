import { atEndOfTurn } from '../end-of-turn.js'

/**
 * Sends the refusals of one turn of the event loop one after the other,
 * each a service time after the previous, so that their clients do not
 * come back in one turn.
 *
 * A client that honours `Retry-After` counts it from the moment its
 * answer arrives, in whole seconds. Clients refused in one turn (a herd,
 * or a burst that lag shedding cut short) came back in one turn again,
 * where a route that computes for milliseconds admits a turn's allowance
 * of them and refuses the rest: got, undici's RetryAgent and axios-retry,
 * with their default retries, had 60 to 130 of 300 such clients served,
 * where the same 300 without shedding took 3 s. Answered a service time
 * apart, they come back about as fast as the route serves them.
 *
 * Only a turn's own refusals are spaced, from its first, which goes at
 * once: under a steady overload a turn refuses a few requests, whose
 * delays stay within a few service times, so a refusal holds its
 * connection (one of a gateway's pool, say) for no longer than an
 * admitted request would. Past `maxMs`, refusals are spread at random
 * over it instead of all waiting for its end.
 */
export class RefusalSpread {
  readonly #pending = new Map<NodeJS.Timeout, () => void>()
  #stopped = false
  /** Refusals made in this turn so far. */
  #inTurn = 0
  readonly #endTurn = (): void => { this.#inTurn = 0 }

  /**
   * Runs `send` after the refusals already made in this turn, `stepMs`
   * after the previous one (`random` in [0, 1) picks where within the
   * step), within `maxMs`; at once for the turn's first, or once stopped.
   */
  later (send: () => void, stepMs: number, maxMs: number, random: number): void {
    const position = this.#inTurn++
    if (position === 0) atEndOfTurn(this.#endTurn)
    const spacedMs = (position - 1 + random) * stepMs
    const delayMs = position === 0 ? 0 : spacedMs <= maxMs ? spacedMs : random * maxMs
    if (delayMs <= 0 || this.#stopped) {
      send()
      return
    }
    const timer = setTimeout(() => {
      this.#pending.delete(timer)
      send()
    }, delayMs)
    this.#pending.set(timer, send)
  }

  /** Refusals waiting to be sent. */
  get pending (): number {
    return this.#pending.size
  }

  /** Sends every waiting refusal now, and the later ones at once: the app is closing. */
  stop (): void {
    this.#stopped = true
    for (const [timer, send] of this.#pending) {
      clearTimeout(timer)
      send()
    }
    this.#pending.clear()
  }
}
