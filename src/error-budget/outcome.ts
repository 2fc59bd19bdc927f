/**
 * What one response means for the error budget:
 * - `good`: counted, within the objective;
 * - `server-error`, `deadline`, `shed`, `chaos`: counted as bad, each under
 *   its own label so that an operator can tell a real failure from a
 *   deliberate refusal or an injected fault;
 * - `client-error` (4xx), `client-closed`, `caller-budget-spent` (the 504
 *   of a request whose caller's budget was spent before it arrived): not
 *   counted; the service did what it should, or was given no time to.
 */
export type OutcomeReason = 'good' | 'server-error' | 'deadline' | 'shed' | 'chaos' | 'client-error' | 'client-closed' | 'caller-budget-spent'

export const BAD_REASONS = ['server-error', 'deadline', 'shed', 'chaos'] as const

export const UNCOUNTED_REASONS = ['client-error', 'client-closed', 'caller-budget-spent'] as const

export interface OutcomeFacts {
  statusCode: number
  /** The deadline passed and the answer is the 504. */
  deadlineExceeded: boolean
  /** The answer is the 504 of a request whose caller's budget was spent on arrival, before any work. */
  callerBudgetSpent: boolean
  /**
   * A streamed body failed on the server's side after its head was sent:
   * the answer broke off. The connection then closes early as if the
   * client had left, and this fact wins over that one.
   */
  brokenOff: boolean
  /** The client went away before the answer, or before a streamed answer's end. */
  clientClosed: boolean
  /** The load shedder refused the request. */
  shed: boolean
  /** A chaos fault was injected into the request. */
  chaos: boolean
}

export interface Outcome {
  counted: boolean
  bad: boolean
  reason: OutcomeReason
}

const outcome = (counted: boolean, bad: boolean, reason: OutcomeReason): Outcome => Object.freeze({ counted, bad, reason })
const GOOD = outcome(true, false, 'good')
const SERVER_ERROR = outcome(true, true, 'server-error')
const DEADLINE = outcome(true, true, 'deadline')
const SHED = outcome(true, true, 'shed')
const CHAOS = outcome(true, true, 'chaos')
const CLIENT_ERROR = outcome(false, false, 'client-error')
const CLIENT_CLOSED = outcome(false, false, 'client-closed')
const CALLER_BUDGET_SPENT = outcome(false, false, 'caller-budget-spent')

/** Classifies a finished request; the labels that explain a failure win over the status code. */
export function classifyOutcome (facts: OutcomeFacts): Outcome {
  if (facts.chaos) return CHAOS
  if (facts.shed) return SHED
  // Any client could otherwise spend the error budget, with a header, on requests the service never got to work on.
  if (facts.callerBudgetSpent) return CALLER_BUDGET_SPENT
  if (facts.deadlineExceeded) return DEADLINE
  if (facts.brokenOff) return SERVER_ERROR
  if (facts.clientClosed) return CLIENT_CLOSED
  if (facts.statusCode >= 500) return SERVER_ERROR
  if (facts.statusCode >= 400) return CLIENT_ERROR
  return GOOD
}
