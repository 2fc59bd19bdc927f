import type { ProblemInit } from './document.js'
import { assertKnownKeys, assertOptionsObject } from '../options.js'

const kProblemError = Symbol.for('fastify-resilience.problem-error')

// Tied to the parameter's type as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const PROBLEM_ERROR_KEYS = ['cause'] as const satisfies ReadonlyArray<keyof NonNullable<ConstructorParameters<typeof ProblemError>[1]>>

/**
 * An error that carries the problem to send. Throw it from a handler or a
 * hook when the failure is deliberate: its `detail` and extension members
 * reach the client even for a 5xx, unlike those of an unexpected error.
 */
export class ProblemError extends Error {
  readonly code = 'FRS_ERR_PROBLEM'
  readonly problem: Readonly<ProblemInit>
  readonly statusCode: number | undefined

  /** @throws FRS_ERR_OPTION_UNKNOWN for an option other than `cause` */
  constructor (problem: ProblemInit, options?: { cause?: unknown }) {
    super(problem.detail ?? problem.title ?? problem.type ?? 'problem', checkedOptions(options))
    this.name = 'ProblemError'
    this.problem = problem
    this.statusCode = problem.status
    Object.defineProperty(this, kProblemError, { value: true })
  }
}

/**
 * The options checked as the plugins' are: `Error` ignores a key it does
 * not know, so from JavaScript a misspelt `cause` would lose the error
 * behind the problem without a word.
 */
function checkedOptions (options: { cause?: unknown } | undefined): { cause?: unknown } | undefined {
  if (options === undefined) return undefined
  assertOptionsObject(options, 'ProblemError options')
  assertKnownKeys(options, PROBLEM_ERROR_KEYS, 'ProblemError options')
  return options
}

/** Recognises a {@link ProblemError}, also one thrown by another installed copy of this library. */
export function isProblemError (value: unknown): value is ProblemError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kProblemError] === true
}

/**
 * Makes a library error carry the problem it answers with, as a
 * {@link ProblemError} does, while keeping its class, `code` and message:
 * the problem-details handler sends that problem when a handler throws it.
 */
export function carryProblem<E extends Error> (error: E, problem: ProblemInit): E & { readonly problem: Readonly<ProblemInit> } {
  Object.defineProperty(error, kProblemError, { value: true })
  Object.defineProperty(error, 'problem', { value: Object.freeze(problem), enumerable: false })
  return error as E & { readonly problem: Readonly<ProblemInit> }
}
