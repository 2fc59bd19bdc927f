import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { frameworkErrorProblem } from '../src/problem/index.js'
import { PROBLEM_CONTENT_TYPE } from './problem-details.js'

/**
 * A `frameworkErrors` handler for the Fastify factory that answers the
 * errors Fastify raises while routing — a URL that does not decode (400
 * `FST_ERR_BAD_URL`), a path parameter over `maxParamLength` (414
 * `FST_ERR_MAX_PARAM_LENGTH`), an asynchronous constraint that failed (500
 * `FST_ERR_ASYNC_CONSTRAINT`) — with a problem instead of Fastify's plain
 * JSON that quotes the raw path. They happen before routing, so no plugin's
 * error handler sees them and a plugin cannot install this itself:
 *
 * ```ts
 * const app = Fastify({ frameworkErrors: problemFrameworkErrors, clientErrorHandler: problemClientErrorHandler })
 * ```
 */
export function problemFrameworkErrors (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const problem = frameworkErrorProblem(error, encodeURIComponent(String(request.id)))
  if (problem.status >= 500) request.log.error({ err: error }, 'request failed before routing')
  else request.log.info({ err: error }, 'request refused before routing')
  reply.code(problem.status).header('content-type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`).send(JSON.stringify(problem))
}
