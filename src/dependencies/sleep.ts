/**
 * Resolves after `ms`, or rejects with the signal's reason when it aborts
 * first; the timer is cleared then, so nothing stays armed once it settles.
 */
export function sleep (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason)
  if (ms <= 0) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    // Not unref'd: a request waits on it (a backoff, a Retry-After, an
    // injected delay), and that wait must keep the process alive, as Node's
    // own timers/promises setTimeout does. Unref'd, a process with nothing
    // else holding its event loop (app.inject in a test, a script) exited
    // mid-request with an unsettled promise.
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Settles like `promise`, or rejects with the signal's reason as soon as it aborts (for clients that ignore the signal). */
export function raceAbort<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {})
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      promise.catch(() => {})
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then((value) => {
      signal.removeEventListener('abort', onAbort)
      resolve(value)
    }, (error: unknown) => {
      signal.removeEventListener('abort', onAbort)
      reject(error)
    })
  })
}
