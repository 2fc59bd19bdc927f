/**
 * Readers for the headers in which a caller states its remaining budget.
 * All are relative durations, never timestamps, so the clocks of caller and
 * server need not agree. Parsing is anchored and bounded: a value is either
 * entirely valid or refused with a reason.
 */

export type BudgetReading =
  | { kind: 'absent' }
  | { kind: 'valid', ms: number }
  | { kind: 'invalid', reason: string }

/** Budgets above one day are refused: no caller waits that long, so the value is a bug or an attack. */
export const MAX_CALLER_BUDGET_MS = 86_400_000

// Longer values are refused before any regular expression runs.
const MAX_HEADER_LENGTH = 16
const MILLISECONDS = /^\d+$/
// gRPC over HTTP/2: TimeoutValue is at most 8 digits, then a unit.
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/
const GRPC_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 }

const ABSENT: BudgetReading = Object.freeze({ kind: 'absent' })

function precheck (value: string | string[] | undefined): BudgetReading | string {
  if (value === undefined) return ABSENT
  // Node joins repeated headers with ", "; arrays come only from raw header lists.
  if (Array.isArray(value) || value.includes(',')) return { kind: 'invalid', reason: 'the header is repeated' }
  if (value.length === 0) return { kind: 'invalid', reason: 'the header is empty' }
  if (value.length > MAX_HEADER_LENGTH) return { kind: 'invalid', reason: `the value is longer than ${MAX_HEADER_LENGTH} characters` }
  return value
}

function bounded (ms: number): BudgetReading {
  if (ms > MAX_CALLER_BUDGET_MS) return { kind: 'invalid', reason: 'the budget is more than one day' }
  return { kind: 'valid', ms }
}

/** Reads a whole, non-negative number of milliseconds, such as `x-request-timeout-ms: 250`. */
export function readMillisecondsHeader (value: string | string[] | undefined): BudgetReading {
  const text = precheck(value)
  if (typeof text !== 'string') return text
  if (!MILLISECONDS.test(text)) return { kind: 'invalid', reason: 'the value is not a whole, non-negative number of milliseconds' }
  return bounded(Number(text))
}

/** Reads gRPC's `grpc-timeout` format: up to 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`). */
export function readGrpcTimeout (value: string | string[] | undefined): BudgetReading {
  const text = precheck(value)
  if (typeof text !== 'string') return text
  const match = GRPC_TIMEOUT.exec(text)
  if (match === null) return { kind: 'invalid', reason: 'the value is not a gRPC timeout (up to 8 digits and one of H, M, S, m, u, n)' }
  return bounded(Number(match[1]) * (GRPC_UNIT_MS[match[2] ?? ''] ?? Number.NaN))
}
