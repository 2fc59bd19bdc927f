/**
 * How many requests may be in flight at once. The admission controller
 * reports every completed request and every refusal; the limit may move in
 * response.
 */
export interface ConcurrencyLimit {
  /** The current limit, a whole number of requests, at least 1. */
  readonly current: number
  /** A request completed after `rttMs`; `inFlight` were running when it was admitted. */
  record: (rttMs: number, inFlight: number, now: number) => void
  /** A request found every slot it may use taken: it waits in line, or is refused. */
  recordFull: () => void
}

/** A limit that never moves. */
export class FixedLimit implements ConcurrencyLimit {
  readonly current: number

  constructor (limit: number) {
    this.current = limit
  }

  record (): void {}
  recordFull (): void {}
}

export interface GradientLimitSettings {
  initialLimit: number
  minLimit: number
  maxLimit: number
  /** Latency may rise to this multiple of the baseline before the limit shrinks. */
  tolerance: number
  /** Weight of a new estimate against the current limit, from 0 to 1. */
  smoothing: number
  /** How often the limit is recomputed, in milliseconds. */
  windowMs: number
  /** Time constant of the baseline latency, in windows. */
  baselineWindows: number
}

/**
 * A concurrency limit that follows measured latency, after the gradient
 * algorithm of Netflix's concurrency-limits (Gradient2) and Envoy's adaptive
 * concurrency filter.
 *
 * Every window, the mean latency of the window (short term) is compared with
 * a slow moving average of past windows (the baseline). While latency stays
 * within `tolerance` × baseline the limit grows by about √limit per window;
 * once requests start to queue somewhere (in this process or downstream),
 * latency rises, the gradient `tolerance × baseline / short` drops below 1
 * and the limit shrinks in proportion at once, down to half per window.
 * Growth is smoothed; shrinking is not. A limit that
 * is not being used (fewer than half its slots taken, nobody turned away)
 * does not grow, so it never drifts far above what the server has proven.
 *
 * The baseline rises only from windows in which nobody was turned away,
 * or at the limit's floor: a sustained overload would otherwise teach it
 * the queue the limit lets build, and latency would climb with the limit
 * for as long as the overload lasts. Latency still too high at the floor
 * is the service's own; the limit then doubles every other window, as
 * TCP's slow start does, until latency rises again or a window turns
 * nobody away.
 */
export class GradientLimit implements ConcurrencyLimit {
  readonly #settings: GradientLimitSettings
  #estimate: number
  #baseline = 0
  #windowStartedAt: number | undefined
  #latencySum = 0
  #samples = 0
  #peakInFlight = 0
  #full = false
  /** Set when the floor showed the latency to be the service's own: the limit doubles every other window until latency rises again or demand is met. */
  #regrowing = false
  /** While regrowing: the last window doubled the limit, so this one waits for its latency. */
  #doubledLastWindow = false

  constructor (settings: GradientLimitSettings) {
    this.#settings = settings
    this.#estimate = settings.initialLimit
  }

  get current (): number {
    return Math.max(1, Math.floor(this.#estimate))
  }

  /** The latency the limit currently treats as normal, in milliseconds; 0 before the first window. */
  get baselineMs (): number {
    return this.#baseline
  }

  record (rttMs: number, inFlight: number, now: number): void {
    this.#windowStartedAt ??= now
    this.#latencySum += rttMs
    this.#samples++
    if (inFlight > this.#peakInFlight) this.#peakInFlight = inFlight
    if (now - this.#windowStartedAt >= this.#settings.windowMs) this.#closeWindow(now)
  }

  recordFull (): void {
    this.#full = true
  }

  #closeWindow (now: number): void {
    const { tolerance, smoothing, minLimit, maxLimit, baselineWindows } = this.#settings
    const shortRtt = Math.max(this.#latencySum / this.#samples, 0.001)
    const peakInFlight = this.#peakInFlight
    const full = this.#full
    this.#windowStartedAt = now
    this.#latencySum = 0
    this.#samples = 0
    this.#peakInFlight = 0
    this.#full = false

    const limit = this.#estimate
    // While the limit holds requests back, the latency seen is partly a
    // queue the limit itself lets build (downstream, or in this process).
    // Learning it as normal would let the limit grow, and latency with it,
    // for as long as the overload lasts.
    if (this.#baseline === 0) {
      this.#baseline = shortRtt
    } else if (full && this.current <= minLimit && peakInFlight <= minLimit && shortRtt > tolerance * this.#baseline) {
      // At its floor the limit cannot take latency any lower: what is left
      // is the service's own latency (a dependency that became slower, a
      // mix of slower requests, or a first baseline learned only from the
      // requests quick enough to finish in the first window). Only once the
      // window's requests were themselves admitted at the floor: those let
      // in while the limit was higher still carry the queue it let build at
      // a slow dependency, and a baseline learned from them lets that queue
      // stand for as long as the overload lasts.
      this.#baseline = shortRtt
      this.#regrowing = true
      this.#doubledLastWindow = false
    } else if (!full || shortRtt < this.#baseline) {
      this.#baseline += (shortRtt - this.#baseline) / baselineWindows
    }
    // After a slow period ends, forget its latency quickly rather than let
    // the inflated baseline admit a queue.
    if (this.#baseline / shortRtt > 2) this.#baseline *= 0.95

    // Nobody turned away: the limit has caught up with demand, and slow
    // start ends there, as TCP's ends at its threshold. Left on, it would
    // double the limit again whenever demand next rose, long after the
    // floor that started it.
    if (!full) this.#regrowing = false
    if (peakInFlight < limit / 2 && !full) return
    const gradient = Math.min(1, Math.max(0.5, tolerance * this.#baseline / shortRtt))
    if (this.#regrowing) {
      // Latency the floor could not lower is no queue of this limit's
      // making: the limit climbs back by doubling, as TCP's slow start
      // does, instead of by √limit (which took about ten seconds from the
      // floor to 200 slots while every request beyond them was refused),
      // until latency rises again or demand is met.
      if (gradient === 1) {
        // Every other window: the latency of the slots just added shows
        // only in the window after, and doubling again before it does
        // overshoots into a queue at a dependency.
        if (!this.#doubledLastWindow) this.#estimate = Math.min(maxLimit, limit * 2)
        this.#doubledLastWindow = !this.#doubledLastWindow
        return
      }
      this.#regrowing = false
    }
    const target = limit * gradient + Math.sqrt(limit)
    // Back off at once, grow cautiously: a queue that is building costs
    // every request latency now, a limit set too low only a few refusals.
    const next = target < limit ? target : limit * (1 - smoothing) + target * smoothing
    this.#estimate = Math.min(maxLimit, Math.max(minLimit, next))
  }
}
