import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import {
  BUILT_IN_PROBLEM_TYPES,
  ProblemTypeRegistry,
  buildProblem,
  headersOfError,
  problemFromError,
  resolveProblemDetailsOptions,
  serializeProblem,
} from '../src/problem/index.js'
import type { ProblemDetailsOptions, ProblemDocument, ProblemInit } from '../src/problem/index.js'
import { isStream } from '../src/payload.js'
import { cutShort } from './cut-short.js'
import { registerOnce } from './registered-once.js'

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Sends an RFC 9457 problem: `type` is a registered slug or an absolute
     * URI (default `about:blank`), `status` may be left out when the slug
     * defines it; other members become extension members.
     * @throws FRS_ERR_PROBLEM_STATUS_INVALID, FRS_ERR_PROBLEM_TYPE_UNKNOWN (answered as a 500 problem)
     */
    problem(init: ProblemInit): FastifyReply
  }
  interface FastifyInstance {
    /** The problem types of this context; capabilities and applications register their slugs here. */
    problemTypes: ProblemTypeRegistry
  }
}

/** The media type of every problem response (RFC 9457 §3). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json'
// Given with its charset so Fastify does not have to append one per reply.
const PROBLEM_CONTENT_TYPE_HEADER = `${PROBLEM_CONTENT_TYPE}; charset=utf-8`

function instanceOf (request: FastifyRequest): string {
  return encodeURIComponent(String(request.id))
}

/** The part of the request Fastify validated under `location` (its validationContext). */
function validatedPart (request: FastifyRequest, location: string): unknown {
  switch (location) {
    case 'body': return request.body
    case 'querystring': return request.query
    case 'params': return request.params
    case 'headers': return request.headers
    default: return undefined
  }
}

function sendProblem (reply: FastifyReply, problem: ProblemDocument): FastifyReply {
  const { body, complete } = serializeProblem(problem)
  if (!complete) reply.log.warn({ problemType: problem.type }, 'problem extension members could not be serialised; sent the core members only')
  const before = reply.statusCode
  reply.code(problem.status).header('content-type', PROBLEM_CONTENT_TYPE_HEADER)
  try {
    return reply.send(body)
  } catch (error) {
    // Refused (Fastify refuses a send while onError hooks run): the status
    // goes back, since the error handler keeps a status set on the reply.
    reply.code(before)
    throw error
  }
}

function warnDroppedMembers (reply: FastifyReply, droppedMembers: readonly string[]): void {
  if (droppedMembers.length > 0) {
    reply.log.warn({ droppedMembers }, 'problem extension members dropped: names must start with a letter and hold at least three letters, digits or underscores (RFC 9457 §3.2)')
  }
}

/**
 * Makes every error response of the application an RFC 9457 problem:
 * thrown and rejected errors, validation errors, Fastify's own errors and
 * unknown routes; adds `reply.problem()` and `app.problemTypes`.
 */
/**
 * A refusal the library decided on (a dependency's open breaker): not a
 * failure of this request's code, so one info line without a stack, like
 * the overloaded answers load shedding sends itself.
 */
const kRefusalLog = Symbol.for('fastify-resilience.refusal-log')
interface RefusalLog { msg: string, fields: Record<string, unknown> }

function refusalOf (error: unknown): RefusalLog | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const refusal = (error as Record<symbol, unknown>)[kRefusalLog]
  if (typeof refusal !== 'object' || refusal === null) return undefined
  const { msg, fields } = refusal as Partial<RefusalLog>
  return typeof msg === 'string' && typeof fields === 'object' && fields !== null ? { msg, fields } : undefined
}

/**
 * Logs the error a problem answers, once: a refusal the library decided on
 * at info, a 5xx at error, a 4xx at info. The logger may fail to write the
 * error itself (pino tags it, which a frozen error refuses): a plain copy
 * of what can be read goes out instead, and the answer stays the same.
 */
function logAnswered (request: FastifyRequest, error: unknown, status: number): void {
  const level = status >= 500 ? 'error' : 'info'
  const msg = status >= 500 ? 'request failed' : 'request rejected'
  try {
    const refusal = refusalOf(error)
    if (refusal !== undefined) request.log.info(refusal.fields, refusal.msg)
    else request.log[level]({ err: error }, msg)
  } catch {
    request.log[level]({ err: readableCopy(error) }, msg)
  }
}

/** The members of an error a log line needs, copied out of it; a getter that throws leaves its member out. */
function readableCopy (error: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = {}
  if (typeof error !== 'object' || error === null) return { message: String(error) }
  for (const key of ['name', 'message', 'stack', 'code', 'statusCode']) {
    try {
      const value = (error as Record<string, unknown>)[key]
      if (value !== undefined) copy[key] = value
    } catch {}
  }
  return copy
}

const problemDetailsPlugin: FastifyPluginAsync<ProblemDetailsOptions> = async function problemDetails (app, options) {
  registerOnce(app, 'fastify-resilience/problem-details')
  const settings = resolveProblemDetailsOptions(options)
  const registry = new ProblemTypeRegistry(settings.typeBase)
  for (const [slug, definition] of Object.entries(BUILT_IN_PROBLEM_TYPES)) registry.register(slug, definition)
  for (const [slug, definition] of Object.entries(settings.types)) registry.register(slug, definition)

  app.decorate('problemTypes', registry)

  app.decorateReply('problem', function problem (this: FastifyReply, init: ProblemInit): FastifyReply {
    const built = buildProblem(init, registry, instanceOf(this.request))
    warnDroppedMembers(this, built.droppedMembers)
    return sendProblem(this, built.problem)
  })

  app.setErrorHandler(function problemErrorHandler (error: unknown, request, reply) {
    const options = {
      exposeInternalErrors: settings.exposeInternalErrors,
      instance: instanceOf(request),
      replyStatus: reply.statusCode,
      validatedPart: (location: string) => validatedPart(request, location),
    }
    let built: ReturnType<typeof problemFromError>
    let headers: Record<string, string>
    let logged = false
    try {
      built = problemFromError(error, registry, options)
      headers = headersOfError(error)
    } catch (unreadable) {
      // An error whose getters throw (message, headers): Fastify's fallback
      // would answer with the inner error's message, as JSON. It is a 500
      // problem like any other failure, and what could be read is logged.
      request.log.error({ err: unreadable }, 'request failed with an error that could not be read')
      built = problemFromError(new Error('unreadable error'), registry, options)
      headers = {}
      logged = true
    }
    // One line per failure: a ProblemError that could not be built is told by its build error.
    if (built.buildError !== undefined) request.log.error({ err: built.buildError }, 'a ProblemError could not be turned into a problem')
    else if (!logged) logAnswered(request, error, built.problem.status)
    warnDroppedMembers(reply, built.droppedMembers)

    if (reply.raw.headersSent) {
      // A stream failed after its head was written: no problem can follow,
      // so cut the response rather than send a truncated success.
      cutShort(reply.raw)
      return
    }
    reply.headers(headers)
    sendProblem(reply, built.problem)
  })

  if (app.initialConfig.http2 === true) {
    // Fastify destroys a response whose stream fails after its head is
    // out, which over HTTP/2 resets the stream with NO_ERROR: the client
    // takes the half-sent body for the whole. Cut it with an error first.
    app.addHook('onSend', function cutFailedStreams (_request, reply, payload, done) {
      if (isStream(payload)) {
        (payload as NodeJS.EventEmitter).once('error', () => { if (reply.raw.headersSent) cutShort(reply.raw) })
      }
      done(null, payload)
    })
  }

  if (settings.notFound) {
    app.setNotFoundHandler(function problemNotFound (request, reply) {
      const path = request.url.split('?', 1)[0] ?? '/'
      reply.problem({ status: 404, detail: `No route matches ${request.method} ${path}` })
    })
  }
}

/** The problem details capability as a Fastify plugin. */
export const problemDetails = fp(problemDetailsPlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/problem-details',
})

export type { ProblemDetailsOptions }
