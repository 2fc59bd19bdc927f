import type { HeaderReader } from './options.js'

export type CallerBudget =
  | { kind: 'none' }
  | { kind: 'budget', ms: number }
  | { kind: 'invalid', header: string, reason: string }

const NONE: CallerBudget = Object.freeze({ kind: 'none' })

/**
 * The caller's remaining budget: the smallest valid value among the headers
 * read. The first malformed header makes the whole reading invalid, so a
 * caller never gets a longer deadline by sending garbage beside a value.
 */
export function readCallerBudget (headers: Readonly<Record<string, string | string[] | undefined>>, readers: readonly HeaderReader[]): CallerBudget {
  let smallest: number | undefined
  for (const reader of readers) {
    const reading = reader.read(headers[reader.name])
    if (reading.kind === 'invalid') return { kind: 'invalid', header: reader.name, reason: reading.reason }
    if (reading.kind === 'valid' && (smallest === undefined || reading.ms < smallest)) smallest = reading.ms
  }
  return smallest === undefined ? NONE : { kind: 'budget', ms: smallest }
}
