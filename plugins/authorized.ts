import type { FastifyRequest } from 'fastify'

/** An `authorize(request)` option: who may see a library route's details or act on it. */
export type Authorize = (request: FastifyRequest) => boolean | Promise<boolean>

/**
 * Whether `authorize` lets this request through: only when it answers
 * `true` itself. A JavaScript authorize that returns a header's value or a
 * user object is not a yes; taken for one, any caller who sent the header,
 * whatever its value, saw what the guard hides. One that throws (a token
 * store that is down) says no, with a log line naming the option.
 */
export async function authorized (request: FastifyRequest, authorize: Authorize, option: string): Promise<boolean> {
  try {
    return (await authorize(request)) === true
  } catch (error) {
    request.log.warn({ err: error, option }, `${option}() threw; access refused`)
    return false
  }
}
