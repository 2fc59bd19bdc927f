/**
 * Samples how late the event loop runs a timer: a timer due every
 * `intervalMs` that fires late by more than a turn's normal jitter says
 * the loop was blocked that long. The largest delay of the last
 * `windowMs` is kept, so a probe that comes after the loop recovered
 * still sees the stall that delayed it.
 */
export class LoopDelaySampler {
  readonly #intervalMs: number
  readonly #windowSamples: number
  readonly #now: () => number
  readonly #samples: number[] = []
  #timer: NodeJS.Timeout | undefined
  #expectedAt = 0

  constructor (intervalMs: number, windowMs: number, now: () => number) {
    this.#intervalMs = intervalMs
    this.#windowSamples = Math.max(1, Math.ceil(windowMs / intervalMs))
    this.#now = now
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#expectedAt = this.#now() + this.#intervalMs
    this.#timer = setInterval(() => this.#sample(), this.#intervalMs)
    this.#timer.unref()
  }

  stop (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** The largest delay seen in the window, in milliseconds; also counts a stall still going on. */
  delayMs (): number {
    const current = this.#timer === undefined ? 0 : Math.max(0, this.#now() - this.#expectedAt)
    let max = current
    for (const sample of this.#samples) if (sample > max) max = sample
    return max
  }

  #sample (): void {
    const now = this.#now()
    this.#samples.push(Math.max(0, now - this.#expectedAt))
    if (this.#samples.length > this.#windowSamples) this.#samples.shift()
    this.#expectedAt = now + this.#intervalMs
  }
}
