import type { RequestDeadline } from './deadline.js'

/**
 * Applies a deadline to the options of a `fetch` (or undici) call: its
 * signal, combined with any signal already given, and the header that
 * carries the remaining budget downstream.
 */
export function withDeadline (deadline: RequestDeadline, init: RequestInit = {}): RequestInit {
  const headers = new Headers(init.headers)
  for (const [name, value] of Object.entries(deadline.headers())) headers.set(name, value)
  const signal = init.signal == null ? deadline.signal : AbortSignal.any([deadline.signal, init.signal])
  return { ...init, headers, signal }
}
