import { FRS_ERR_DEPENDENCY_FAILED, FRS_ERR_DEPENDENCY_TIMEOUT, FRS_ERR_DEPENDENCY_UNAVAILABLE } from '../errors.js'
import type { ProblemInit } from '../problem/document.js'
import { carryProblem } from '../problem/problem-error.js'
import type { ProblemTypeDefinition } from '../problem/registry.js'

/** Why a call to a dependency did not produce an answer. */
export type FailureReason = 'breaker-open' | 'bulkhead-full' | 'timeout' | 'status' | 'network'

/** A failed or refused call, as fallbacks and error handlers see it. */
export interface DependencyFailure {
  dependency: string
  reason: FailureReason
  /** The dependency's answer status, for `status`. */
  status?: number
  /** For a refusal: when the dependency may be called again. */
  retryAfterMs?: number
  /** The underlying error (network error, client error), for logs only. */
  cause?: unknown
  /** A chaos fault on the call caused the failure: the dependency was never called, or was held until the timeout. */
  injected?: boolean
}

/** The problem types a failed or refused dependency call answers with, registered by the dependencies plugin. */
export const DEPENDENCY_PROBLEM_TYPES: Readonly<Record<string, ProblemTypeDefinition>> = Object.freeze({
  'dependency-unavailable': {
    title: 'Dependency unavailable',
    status: 503,
    description: 'A service this request needs is not being called right now: its circuit breaker is open or its bulkhead is full. The `dependency` member names it; retry after the Retry-After delay.',
  },
  'dependency-timeout': {
    title: 'Dependency timed out',
    status: 504,
    description: 'A service this request needs did not answer within its timeout. The `dependency` member names it.',
  },
  'dependency-failed': {
    title: 'Dependency failed',
    status: 502,
    description: 'A service this request needs answered with an error or could not be reached. The `dependency` member names it; its answer is not passed on.',
  },
})

// Read by the problem-details error handler: a refusal is logged at info, without a stack.
const kRefusalLog = Symbol.for('fastify-resilience.refusal-log')

const REASON_TEXT: Record<FailureReason, string> = {
  'breaker-open': 'its circuit breaker is open',
  'bulkhead-full': 'too many calls to it are in flight',
  timeout: 'it did not answer in time',
  status: 'it answered with an error status',
  network: 'it could not be reached',
}

/**
 * The error a dependency call throws when it fails or is refused: one of
 * `FRS_ERR_DEPENDENCY_FAILED`, `FRS_ERR_DEPENDENCY_TIMEOUT` or
 * `FRS_ERR_DEPENDENCY_UNAVAILABLE`, with the dependency's name, the reason,
 * the problem it answers with and its headers (`Retry-After`).
 */
export type DependencyError = InstanceType<typeof FRS_ERR_DEPENDENCY_FAILED | typeof FRS_ERR_DEPENDENCY_TIMEOUT | typeof FRS_ERR_DEPENDENCY_UNAVAILABLE> & {
  readonly dependency: string
  readonly reason: FailureReason
  readonly problem: ProblemInit
  readonly headers?: Record<string, string>
}

/**
 * The error a failed call throws: one of the error table's dependency
 * errors, carrying the problem to answer with (so the problem-details
 * handler sends its type, the `dependency` member and Retry-After) and
 * never the dependency's own answer.
 */
export function dependencyError (failure: DependencyFailure, timeoutMs: number): DependencyError {
  const { dependency, reason } = failure
  const problem: ProblemInit = { dependency, reason }
  let error: Error & { headers?: Record<string, string> }
  if (reason === 'breaker-open' || reason === 'bulkhead-full') {
    error = new FRS_ERR_DEPENDENCY_UNAVAILABLE(dependency, REASON_TEXT[reason])
    const seconds = Math.max(1, Math.ceil((failure.retryAfterMs ?? 1000) / 1000))
    error.headers = { 'retry-after': String(seconds) }
    Object.assign(problem, { type: 'dependency-unavailable', detail: `The ${dependency} service is not being called: ${REASON_TEXT[reason]}.` })
    Object.defineProperty(error, kRefusalLog, { value: { msg: 'request refused: dependency unavailable', fields: { dependency, reason, retryAfter: seconds } } })
  } else if (reason === 'timeout') {
    error = new FRS_ERR_DEPENDENCY_TIMEOUT(dependency, timeoutMs)
    Object.assign(problem, { type: 'dependency-timeout', detail: `The ${dependency} service did not answer within ${timeoutMs} ms.`, timeoutMs })
  } else {
    error = new FRS_ERR_DEPENDENCY_FAILED(dependency, REASON_TEXT[reason])
    Object.assign(problem, { type: 'dependency-failed', detail: `The ${dependency} service failed: ${REASON_TEXT[reason]}.` })
  }
  if (failure.cause !== undefined) Object.defineProperty(error, 'cause', { value: failure.cause, enumerable: false })
  carryProblem(error, problem)
  Object.defineProperty(error, 'dependency', { value: dependency, enumerable: true })
  Object.defineProperty(error, 'reason', { value: reason, enumerable: true })
  return error as DependencyError
}

/** Recognises the error of a failed dependency call, also from another installed copy. */
export function isDependencyError (value: unknown): value is DependencyError {
  return typeof value === 'object' && value !== null && typeof (value as { dependency?: unknown }).dependency === 'string' &&
    typeof (value as { code?: unknown }).code === 'string' && (value as { code: string }).code.startsWith('FRS_ERR_DEPENDENCY_')
}

/** Whether `error` is a failed dependency call whose failure a chaos fault caused. */
export function isInjectedDependencyError (error: unknown): boolean {
  return isDependencyError(error) && (error as unknown as { failure?: DependencyFailure }).failure?.injected === true
}
