/** A bulkhead's answer when it has neither a free slot nor room in its queue. */
export const BULKHEAD_FULL = Symbol('bulkhead-full')

interface Waiter {
  resolve: (release: () => void) => void
  reject: (reason: unknown) => void
  signal: AbortSignal
  onAbort: () => void
}

/**
 * A concurrency cap with a bounded queue, so one slow dependency cannot
 * hold every request of the server. Unlike cockatiel's BulkheadPolicy, a
 * waiter whose signal aborts (its request's deadline, its client gone)
 * leaves the queue at once instead of keeping its place until a slot frees.
 */
export class Bulkhead {
  readonly maxConcurrent: number
  readonly maxQueue: number
  #active = 0
  readonly #queue: Waiter[] = []

  constructor (maxConcurrent: number, maxQueue: number) {
    this.maxConcurrent = maxConcurrent
    this.maxQueue = maxQueue
  }

  get active (): number {
    return this.#active
  }

  get queued (): number {
    return this.#queue.length
  }

  /** A free slot's release function, or undefined when every slot is taken. */
  tryAcquire (): (() => void) | undefined {
    if (this.#active >= this.maxConcurrent) return undefined
    this.#active++
    return this.#releaser()
  }

  /**
   * Resolves with a release function once a slot is free; rejects with
   * {@link BULKHEAD_FULL} when the queue is full too, or with the signal's
   * reason when it aborts first.
   */
  acquire (signal: AbortSignal): Promise<() => void> | typeof BULKHEAD_FULL {
    const release = this.tryAcquire()
    if (release !== undefined) return Promise.resolve(release)
    if (this.#queue.length >= this.maxQueue) return BULKHEAD_FULL
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.#queue.indexOf(waiter)
          if (index !== -1) this.#queue.splice(index, 1)
          reject(signal.reason)
        },
      }
      if (signal.aborted) {
        reject(signal.reason)
        return
      }
      signal.addEventListener('abort', waiter.onAbort, { once: true })
      this.#queue.push(waiter)
    })
  }

  #releaser (): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.#queue.shift()
      if (next === undefined) {
        this.#active--
        return
      }
      // The slot passes straight to the next waiter.
      next.signal.removeEventListener('abort', next.onAbort)
      next.resolve(this.#releaser())
    }
  }
}
