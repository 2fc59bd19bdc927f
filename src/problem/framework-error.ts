import { reasonPhrase, statusOfError } from './build.js'
import type { ProblemDocument } from './document.js'
import { GENERIC_SERVER_ERROR_DETAIL } from './from-error.js'

// Fastify's messages for these errors quote the raw path; the details here
// say what was wrong without repeating what the client sent.
const DETAILS: Readonly<Record<string, string>> = {
  FST_ERR_BAD_URL: 'The request URL holds a percent-encoded sequence that does not decode.',
  FST_ERR_MAX_PARAM_LENGTH: 'A path parameter is longer than this server accepts.',
}

const ERROR_CODE = /^FST_ERR_[A-Z0-9_]{1,56}$/

/**
 * The problem for an error Fastify raises while routing, before any plugin
 * can run (a URL that does not decode, an over-long path parameter, an
 * asynchronous constraint that failed). `type` is `about:blank`: no plugin
 * options are known at that point.
 */
export function frameworkErrorProblem (error: unknown, instance: string): ProblemDocument {
  const status = statusOfError(error)
  const title = reasonPhrase(status)
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  const problem: ProblemDocument = { type: 'about:blank', title, status, detail: GENERIC_SERVER_ERROR_DETAIL, instance }
  if (status < 500) {
    problem.detail = (typeof code === 'string' ? DETAILS[code] : undefined) ?? 'The request was refused before it reached a route.'
    if (typeof code === 'string' && ERROR_CODE.test(code)) problem.code = code
  }
  return problem
}
