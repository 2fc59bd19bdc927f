import type { RequestDeadline } from './deadline.js'

/**
 * The part of a client's options `withDeadline` reads. Headers are what the
 * `Headers` constructor takes (a plain object, `[name, value]` pairs or a
 * `Headers`): undici's flat `['name', 'value', …]` array and a `null` make it
 * throw, and an `undefined` value would be sent as the text "undefined".
 */
export interface DeadlineInit {
  /** A signal of the caller's own, combined with the deadline's. */
  signal?: AbortSignal | null | undefined
  /** The caller's headers, kept alongside the budget header. */
  headers?: ConstructorParameters<typeof Headers>[0]
}

/** The caller's options, with the deadline's signal and a `Headers` holding the budget header. */
export type WithDeadline<Init extends object> = Omit<Init, 'headers' | 'signal'> & {
  /** The caller's headers and the budget header. */
  headers: Headers
  /** Aborts at the deadline, or when the caller's own signal does. */
  signal: AbortSignal
}

/**
 * Applies a deadline to the options of a `fetch` (or undici) call: its
 * signal, combined with any signal already given, and the header that
 * carries the remaining budget downstream. Generic over the options so the
 * result still fits the client they were written for, e.g. `undici.request`.
 */
// `Init & DeadlineInit` rather than `Init extends DeadlineInit`: every
// member of DeadlineInit is optional, so TypeScript took options that
// name neither (`{ method: 'POST', body }`) for a mistake, a "weak type"
// with nothing in common. The intersection still refuses headers or a
// signal of a type it cannot read.
export function withDeadline<Init extends object = Record<never, never>> (deadline: RequestDeadline, init?: Init & DeadlineInit): WithDeadline<Init> {
  const headers = new Headers(init?.headers)
  for (const [name, value] of Object.entries(deadline.headers())) headers.set(name, value)
  const signal = init?.signal == null ? deadline.signal : AbortSignal.any([deadline.signal, init.signal])
  // The spread keeps every other option as the caller typed it.
  return { ...init, headers, signal } as WithDeadline<Init>
}
