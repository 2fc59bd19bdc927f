import type { Clock } from '../clock.js'
import { DeadlineQueue } from '../deadline/queue.js'

/**
 * Bounds store calls in time with one shared timer: every call's timeout
 * waits in a {@link DeadlineQueue} instead of arming a timer of its own.
 */
export class CallTimeouts {
  readonly #queue: DeadlineQueue<() => void>
  readonly #clock: Clock

  constructor (maxMs: number, clock: Clock) {
    this.#clock = clock
    this.#queue = new DeadlineQueue<() => void>(maxMs, clock, (fire) => fire())
  }

  /**
   * Settles like `call`, or rejects with `onTimeout()` after `timeoutMs`;
   * `onLate` then gets what `call` resolves to, should it still resolve
   * (a store call that timed out may still have been carried out).
   */
  run<T> (call: Promise<T>, timeoutMs: number, onTimeout: () => Error, onLate?: (value: T) => void): Promise<T> {
    // Not an async function: one promise per call instead of two.
    return new Promise<T>((resolve, reject) => {
      let timedOut = false
      const entry = this.#queue.add(() => {
        timedOut = true
        reject(onTimeout())
      }, this.#clock.now() + Math.max(1, timeoutMs))
      call.then((value) => {
        if (timedOut) {
          onLate?.(value)
          return
        }
        entry.cancel()
        resolve(value)
      }, (error: unknown) => {
        entry.cancel()
        reject(error)
      })
    })
  }

  close (): void {
    this.#queue.close()
  }
}
