/** One caller waiting on a shared call: how long it can still wait. */
interface Waiter {
  remainingMs: () => number
}

interface Flight<T> {
  promise: Promise<T>
  controller: AbortController
  waiters: Set<Waiter>
}

/** The shared call's view of the callers that wait for it. */
export interface SharedCall {
  /** Aborts once every caller has given up. */
  signal: AbortSignal
  /** The longest any waiting caller can still wait. */
  remainingMs: () => number
}

/**
 * Singleflight: identical calls in flight share one. Each caller waits
 * with its own signal and gives up alone when it aborts (a shorter
 * deadline, a client gone); the shared call is cancelled only when no
 * caller waits for it any more.
 */
export class Coalescer<T> {
  readonly #flights = new Map<string, Flight<T>>()

  get inFlight (): number {
    return this.#flights.size
  }

  /**
   * Joins the call in flight under `key`, or starts it with `start`.
   * `joined` is called when this caller shares a call someone else started.
   */
  run (key: string, signal: AbortSignal, remainingMs: () => number, start: (shared: SharedCall) => Promise<T>, joined: () => void): Promise<T> {
    const waiter: Waiter = { remainingMs }
    let flight = this.#flights.get(key)
    if (flight === undefined) {
      const controller = new AbortController()
      const waiters = new Set<Waiter>()
      const shared: SharedCall = {
        signal: controller.signal,
        remainingMs: () => {
          let longest = 0
          for (const waiter of waiters) longest = Math.max(longest, waiter.remainingMs())
          return longest
        },
      }
      const created: Flight<T> = { promise: undefined as unknown as Promise<T>, controller, waiters }
      // The first caller waits from the start: the shared call reads its deadline at once.
      if (!signal.aborted) waiters.add(waiter)
      created.promise = start(shared).finally(() => {
        if (this.#flights.get(key) === created) this.#flights.delete(key)
      })
      // The shared promise is awaited through each caller's race; this keeps an abandoned one from being unhandled.
      created.promise.catch(() => {})
      this.#flights.set(key, created)
      flight = created
    } else {
      joined()
    }
    return this.#wait(key, flight, signal, waiter)
  }

  #wait (key: string, flight: Flight<T>, signal: AbortSignal, waiter: Waiter): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason)
    flight.waiters.add(waiter)
    return new Promise<T>((resolve, reject) => {
      const leave = (): void => {
        signal.removeEventListener('abort', onAbort)
        flight.waiters.delete(waiter)
      }
      const onAbort = (): void => {
        leave()
        if (flight.waiters.size === 0) {
          // A caller that comes after this starts afresh instead of joining a cancelled call.
          if (this.#flights.get(key) === flight) this.#flights.delete(key)
          flight.controller.abort(signal.reason)
        }
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      flight.promise.then((value) => {
        leave()
        resolve(value)
      }, (error: unknown) => {
        leave()
        reject(error)
      })
    })
  }
}
