import { buildProblem, statusOfError } from './build.js'
import type { BuiltProblem } from './build.js'
import type { ProblemInit } from './document.js'
import { isErrorStatus } from './document.js'
import { isProblemError } from './problem-error.js'
import type { ProblemTypeRegistry } from './registry.js'
import { toValidationIssues } from './validation.js'
import { passedOnAnswer } from './passed-on.js'
import { isHeaderName } from '../header-name.js'

/** The `detail` of an unexpected 5xx, whose own message stays in the log. */
export const GENERIC_SERVER_ERROR_DETAIL = 'The server could not complete the request. Quote the instance when reporting the problem.'

const ERROR_CODE = /^[A-Z][A-Z0-9_]{1,63}$/

export interface ErrorProblemOptions {
  /** Send an unexpected 5xx error's message as `detail`. Stacks are never sent. */
  exposeInternalErrors: boolean
  instance?: string
  /**
   * The status the reply already has (`reply.code(404)` before the throw).
   * An error status there is kept, as Fastify keeps it, over the error's own.
   */
  replyStatus?: number
  /**
   * The part of the request a validation error is about (`body`,
   * `querystring`, `params` or `headers`), as it was validated: a validator
   * that reports paths rather than JSON pointers (fastify-type-provider-zod)
   * is read against it.
   */
  validatedPart?: (location: string) => unknown
}

export interface ErrorProblem extends BuiltProblem {
  /** An error raised while building the problem itself (a malformed ProblemError), to be logged too. */
  buildError?: unknown
}

interface ErrorFields {
  message?: unknown
  code?: unknown
  validation?: unknown
  validationContext?: unknown
}

/**
 * Maps anything a handler, a hook or Fastify itself threw to a problem:
 * - a {@link ProblemError} is sent as declared (it is deliberate, so its
 *   detail is public even for a 5xx);
 * - a schema validation error becomes `validation-failed` with one `errors`
 *   entry per violation;
 * - any other error becomes a plain HTTP problem (`about:blank`): 4xx keep
 *   their message and `code`, 5xx get a generic detail unless exposed.
 */
export function problemFromError (error: unknown, registry: ProblemTypeRegistry, options: ErrorProblemOptions): ErrorProblem {
  if (isProblemError(error)) {
    try {
      return buildProblem(error.problem, registry, options.instance)
    } catch (buildError) {
      return { ...problemFromError(buildError, registry, options), buildError }
    }
  }

  const fields: ErrorFields = typeof error === 'object' && error !== null ? error : {}
  const passed = passedOnAnswer(error)
  const own = passed?.status ?? statusOfError(error)
  const status = isErrorStatus(options.replyStatus) ? options.replyStatus : own
  const message = typeof fields.message === 'string' && fields.message !== '' ? fields.message : undefined
  // Another server's answer passed on is its status alone: the HTTP
  // client's message and code describe the call this server made (got's
  // names the upstream's URL, query string and any key in it included).
  if (passed !== undefined && !options.exposeInternalErrors) return buildProblem({ status }, registry, options.instance)

  if (status === 400 && Array.isArray(fields.validation)) {
    const location = typeof fields.validationContext === 'string' ? fields.validationContext : 'body'
    const init: ProblemInit = { type: 'validation-failed', errors: toValidationIssues(fields.validation, location, options.validatedPart?.(location)) }
    if (message !== undefined) init.detail = message
    return buildProblem(init, registry, options.instance)
  }

  const init: ProblemInit = { status }
  // The message is the client's only when the error itself says it is a
  // client error: a status set on the reply says nothing of what an error
  // without one holds (an onSend hook's failure while a 404 went out).
  if (options.exposeInternalErrors || (status < 500 && own < 500)) {
    if (message !== undefined) init.detail = message
    if (typeof fields.code === 'string' && ERROR_CODE.test(fields.code)) init.code = fields.code
  } else if (status >= 500) {
    init.detail = GENERIC_SERVER_ERROR_DETAIL
  }
  return buildProblem(init, registry, options.instance)
}

/**
 * Headers an error may not set on its problem response: those that describe
 * the body (the problem has its own), those that manage the connection
 * (hop-by-hop, RFC 9110 §7.6.1), and cookies. HTTP client errors carry the
 * upstream's response headers as `error.headers`: copied as they are, a
 * `transfer-encoding: chunked` beside the problem's `content-length` makes
 * the answer unreadable, a `connection: keep-alive` overrides the client's
 * `close`, and the upstream's session cookie would reach the client.
 */
const REFUSED_ERROR_HEADERS: ReadonlySet<string> = new Set([
  'content-type', 'content-length', 'content-encoding', 'content-range',
  'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade',
  'set-cookie',
])

/**
 * The headers an error asks for (Fastify's `error.headers` convention, used
 * for Retry-After and the like), keeping only well-formed names and values
 * and none of {@link REFUSED_ERROR_HEADERS}; of an error that carries
 * another server's answer, only the Retry-After it asked for.
 */
export function headersOfError (error: unknown): Record<string, string> {
  const headers: Record<string, string> = {}
  if (typeof error !== 'object' || error === null) return headers
  const passed = passedOnAnswer(error)
  const source = passed === undefined ? (error as { headers?: unknown }).headers : { 'retry-after': passed.retryAfter }
  if (typeof source !== 'object' || source === null || Array.isArray(source)) return headers
  for (const [name, value] of headerEntries(source)) {
    if (!isHeaderName(name)) continue
    if (REFUSED_ERROR_HEADERS.has(name.toLowerCase())) continue
    const text = typeof value === 'number' ? String(value) : value
    if (typeof text === 'string' && HEADER_VALUE.test(text)) headers[name] = text
  }
  return headers
}

/** The name–value pairs of a plain record, or of a `Headers` or `Map` (fetch-style clients put a `Headers` there). */
function headerEntries (source: object): Array<[string, unknown]> {
  const forEach = (source as { forEach?: unknown }).forEach
  if (typeof forEach !== 'function') return Object.entries(source)
  const entries: Array<[string, unknown]> = []
  ;(forEach as (each: (value: unknown, name: unknown) => void) => void).call(source, (value, name) => {
    if (typeof name === 'string') entries.push([name, value])
  })
  return entries
}

const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/
