/** The longest wait a Retry-After may ask for that is still honoured (one hour). */
const MAX_RETRY_AFTER_MS = 3_600_000

/**
 * Reads a Retry-After value (RFC 9110 §10.2.3): a whole number of seconds
 * or an HTTP-date. Answers milliseconds from `nowMs` (wall-clock time, the
 * date's reference), or undefined when it is absent or malformed.
 */
export function parseRetryAfter (value: string | null | undefined, nowMs: number): number | undefined {
  if (value == null) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS)
  const date = Date.parse(text)
  if (Number.isNaN(date) || !/[a-z]/i.test(text)) return undefined
  return Math.min(Math.max(0, date - nowMs), MAX_RETRY_AFTER_MS)
}
