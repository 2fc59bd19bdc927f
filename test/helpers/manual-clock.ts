import type { Clock } from '../../src/clock.js'

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  #now = 1000
  now (): number {
    return this.#now
  }

  advance (ms: number): void {
    this.#now += ms
  }
}
