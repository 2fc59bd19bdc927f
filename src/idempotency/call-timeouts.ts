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

  /** Settles like `call`, or rejects with `onTimeout()` after `timeoutMs`. */
  run<T> (call: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
    // Not an async function: one promise per call instead of two.
    return new Promise<T>((resolve, reject) => {
      const entry = this.#queue.add(() => reject(onTimeout()), this.#clock.now() + Math.max(1, timeoutMs))
      call.then((value) => {
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
