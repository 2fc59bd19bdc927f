import type { ProblemInit } from './document.js'

const kProblemError = Symbol.for('fastify-resilience.problem-error')

/**
 * An error that carries the problem to send. Throw it from a handler or a
 * hook when the failure is deliberate: its `detail` and extension members
 * reach the client even for a 5xx, unlike those of an unexpected error.
 */
export class ProblemError extends Error {
  readonly code = 'FRS_ERR_PROBLEM'
  readonly problem: Readonly<ProblemInit>
  readonly statusCode: number | undefined

  constructor (problem: ProblemInit, options?: { cause?: unknown }) {
    super(problem.detail ?? problem.title ?? problem.type ?? 'problem', options)
    this.name = 'ProblemError'
    this.problem = problem
    this.statusCode = problem.status
    Object.defineProperty(this, kProblemError, { value: true })
  }
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
