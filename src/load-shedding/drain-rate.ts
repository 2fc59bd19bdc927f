const WINDOW_MS = 250

/**
 * Completions per second, measured over 250 ms windows and smoothed, so
 * that a refused client can be told roughly when the work ahead of it will
 * have drained. Windows without completions count as zero: a stalled
 * server has no estimate rather than an optimistic one.
 */
export class DrainRate {
  #windowStartedAt: number | undefined
  #completions = 0
  #perSecond = 0

  /** A request completed at `now`. */
  record (now: number): void {
    this.#roll(now)
    this.#completions++
  }

  /** Completions per second, or 0 when nothing has completed lately. */
  perSecond (now: number): number {
    this.#roll(now)
    return this.#perSecond
  }

  #roll (now: number): void {
    if (this.#windowStartedAt === undefined) {
      this.#windowStartedAt = now
      return
    }
    const elapsed = now - this.#windowStartedAt
    if (elapsed < WINDOW_MS) return
    const windows = Math.floor(elapsed / WINDOW_MS)
    const latest = this.#completions * 1000 / WINDOW_MS
    // The window just closed weighs half; each empty one after it halves again.
    this.#perSecond = (this.#perSecond + latest) / 2 / 2 ** (windows - 1)
    if (this.#perSecond < 0.01) this.#perSecond = 0
    this.#completions = 0
    this.#windowStartedAt += windows * WINDOW_MS
  }
}
