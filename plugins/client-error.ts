import type { FastifyInstance } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { clientErrorResponse } from '../src/problem/index.js'

/**
 * A `clientErrorHandler` for the Fastify factory that answers malformed
 * HTTP (bad framing, oversized headers, request timeouts) with a problem
 * instead of Fastify's plain JSON. Such requests fail in Node's parser,
 * before any plugin runs, so a plugin cannot install this itself:
 *
 * ```ts
 * const app = Fastify({ clientErrorHandler: problemClientErrorHandler })
 * ```
 */
export function problemClientErrorHandler (this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  this.log.debug({ err: error }, 'malformed request refused before routing')
  if (socket.writable && !answerUnderWay(socket)) socket.write(clientErrorResponse(error.code))
  socket.destroy(error)
}

/**
 * Whether an earlier request's answer on this connection has begun to go
 * out (a streamed body, say, with a malformed request pipelined behind it):
 * bytes written now would land inside that answer and corrupt it, so the
 * connection is only closed, as Node's own handler does. Node keeps the
 * answer in flight on the socket as `_httpMessage`, with no public name.
 */
function answerUnderWay (socket: Socket): boolean {
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
  return inFlight?.headersSent === true
}
