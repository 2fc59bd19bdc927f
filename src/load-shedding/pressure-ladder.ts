import type { Priority } from './priority.js'
import { PRIORITY_RANK } from './priority.js'

/**
 * Turns a yes/no pressure signal (@fastify/under-pressure's thresholds) into
 * graduated shedding: the first sign of pressure sheds `low`; each further
 * `stepMs` of pressure sheds the next class up, to `high` at most; each
 * `stepMs` without pressure gives one class back. `critical` is never shed
 * here, so pressure refuses the least important work rather than all of it.
 */
export class PressureLadder {
  readonly #stepMs: number
  #level = 0
  #steppedAt = -Infinity

  constructor (stepMs: number) {
    this.#stepMs = stepMs
  }

  /** Classes shed: 0 none, 1 `low`, 2 up to `normal`, 3 up to `high`. */
  get level (): number {
    return this.#level
  }

  /** Feeds the signal as seen at `now`; returns whether `priority` is shed. */
  observe (underPressure: boolean, priority: Priority, now: number): boolean {
    const steps = Math.floor((now - this.#steppedAt) / this.#stepMs)
    if (underPressure) {
      if (this.#level === 0) this.#climb(1, now)
      else if (steps > 0 && this.#level < 3) this.#climb(Math.min(3, this.#level + 1), now)
    } else if (this.#level > 0 && steps > 0) {
      this.#climb(Math.max(0, this.#level - steps), now)
    }
    return PRIORITY_RANK[priority] < this.#level
  }

  #climb (level: number, now: number): void {
    this.#level = level
    this.#steppedAt = now
  }
}
