import type { EventEmitter } from 'node:events'
import type { Http2Session } from 'node:http2'
import type { Socket } from 'node:net'

/** A Node HTTP, HTTPS or HTTP/2 server, as far as the closer uses it. */
type AnyServer = EventEmitter & { closeAllConnections?: () => void }

/** Ends a server's connections at shutdown, whatever its protocol. */
export interface ConnectionCloser {
  /** Asks the clients of idle connections to go: a GOAWAY on each HTTP/2 session, whose streams under way still finish. */
  closeIdle: () => void
  /** Closes every connection at once. */
  closeAll: () => void
}

/**
 * An HTTP/1 server (`node:http`, `node:https`) has `closeAllConnections()`,
 * and Fastify closes its idle keep-alive connections itself. An HTTP/2
 * server has neither (before Node 24), and a session its client keeps
 * open holds the server's `close()` for good. For those, sessions are
 * followed from their 'session' event, to be sent a GOAWAY, and sockets
 * from their 'connection' event (raw TCP, before TLS: an HTTP/1 fallback
 * connection is among them), to be destroyed.
 */
export function connectionCloser (server: AnyServer): ConnectionCloser {
  const closeAll = server.closeAllConnections
  if (typeof closeAll === 'function') return { closeIdle: () => {}, closeAll: () => { closeAll.call(server) } }
  const sockets = new Set<Socket>()
  const sessions = new Set<Http2Session>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  server.on('session', (session: Http2Session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  return {
    closeIdle: () => {
      for (const session of sessions) session.close()
    },
    closeAll: () => {
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      sessions.clear()
    },
  }
}
