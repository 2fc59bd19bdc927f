/**
 * Readers for the headers in which a caller states its remaining budget.
 * All are relative durations, never timestamps, so the clocks of caller and
 * server need not agree. Parsing is anchored and linear: a value is either
 * entirely valid or refused with a reason.
 *
 * There is no upper bound. A budget can only shorten a route's deadline,
 * never lengthen it, so a caller saying it can wait longer than the route
 * (`99999999999999`, `99999999H`) is not malformed: its budget simply does
 * not shorten anything.
 */

export type BudgetReading =
  | { kind: 'absent' }
  | { kind: 'valid', ms: number }
  | { kind: 'invalid', reason: string }

// Node's header size limit bounds the input; both patterns run in linear time.
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
  return value
}

/**
 * Reads a whole, non-negative number of milliseconds, such as `x-request-timeout-ms: 250`.
 * A number too large for a double reads as an infinite budget.
 */
export function readMillisecondsHeader (value: string | string[] | undefined): BudgetReading {
  const text = precheck(value)
  if (typeof text !== 'string') return text
  if (!MILLISECONDS.test(text)) return { kind: 'invalid', reason: 'the value is not a whole, non-negative number of milliseconds' }
  return { kind: 'valid', ms: Number(text) }
}

/** Reads gRPC's `grpc-timeout` format: up to 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`). */
export function readGrpcTimeout (value: string | string[] | undefined): BudgetReading {
  const text = precheck(value)
  if (typeof text !== 'string') return text
  const match = GRPC_TIMEOUT.exec(text)
  if (match === null) return { kind: 'invalid', reason: 'the value is not a gRPC timeout (up to 8 digits and one of H, M, S, m, u, n)' }
  return { kind: 'valid', ms: Number(match[1]) * (GRPC_UNIT_MS[match[2] ?? ''] ?? Number.NaN) }
}
