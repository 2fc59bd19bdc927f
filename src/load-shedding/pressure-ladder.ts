import type { Priority } from './priority.js'
import { PRIORITY_RANK } from './priority.js'

/**
 * Turns a yes/no pressure probe (@fastify/under-pressure's samples against
 * the thresholds) into graduated shedding: the first sign of pressure sheds
 * `low`; each further `stepMs` of pressure sheds the next class up, to
 * `high` at most; each `stepMs` without pressure gives one class back.
 * `critical` is never shed here, so pressure refuses the least important
 * work rather than all of it. The probe runs at most once per step, when a
 * request arrives, so the cost per request is one comparison.
 */
export class PressureLadder {
  readonly #stepMs: number
  readonly #probe: () => string | undefined
  #level = 0
  #probedAt = -Infinity
  #signal: string | undefined

  /** `probe` returns a description of the signal over its threshold, or undefined. */
  constructor (stepMs: number, probe: () => string | undefined) {
    this.#stepMs = stepMs
    this.#probe = probe
  }

  /** Classes shed: 0 none, 1 `low`, 2 up to `normal`, 3 up to `high`. */
  get level (): number {
    return this.#level
  }

  /** The signal seen by the last probe that found pressure. */
  get signal (): string | undefined {
    return this.#signal
  }

  /** Whether a request of `priority` arriving at `now` is shed. */
  sheds (priority: Priority, now: number): boolean {
    const steps = Math.floor((now - this.#probedAt) / this.#stepMs)
    if (steps > 0) {
      this.#probedAt = now
      const signal = this.#probe()
      if (signal !== undefined) {
        this.#signal = signal
        this.#level = Math.min(3, this.#level + 1)
      } else {
        this.#level = Math.max(0, this.#level - steps)
      }
    }
    return PRIORITY_RANK[priority] < this.#level
  }
}
