import type { FastifyInstance } from 'fastify'
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
  if (socket.writable) socket.write(clientErrorResponse(error.code))
  socket.destroy(error)
}
