// fastify-resilience/problem-details: RFC 9457 problem responses. Loads
// only @fastify/error and fastify-plugin.
export { problemDetails, PROBLEM_CONTENT_TYPE } from '../problem-details.js'
export type { ProblemDetailsOptions } from '../problem-details.js'
export { problemClientErrorHandler } from '../client-error.js'
export { problemFrameworkErrors } from '../framework-errors.js'
export {
  ProblemError,
  isProblemError,
  ProblemTypeRegistry,
  BUILT_IN_PROBLEM_TYPES,
  DEFAULT_TYPE_BASE,
  GENERIC_SERVER_ERROR_DETAIL,
} from '../../src/problem/index.js'
export type {
  ProblemDocument,
  ProblemInit,
  ProblemTypeDefinition,
  ValidationIssue,
} from '../../src/problem/index.js'
/** Every error class of the library, built with @fastify/error, by code (`errors.FRS_ERR_OPTION_INVALID`, …). */
export * as errors from '../../src/errors.js'
export { monotonicClock, wallClock } from '../../src/clock.js'
export type { Clock } from '../../src/clock.js'
