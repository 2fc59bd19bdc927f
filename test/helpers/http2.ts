import type { FastifyInstance } from 'fastify'
import { connect } from 'node:http2'
import type { ClientHttp2Session } from 'node:http2'

/** Starts `app` (an HTTP/2 one) on a free port and opens a client session to it. */
export async function connectTo (app: FastifyInstance): Promise<ClientHttp2Session> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return connect(`http://127.0.0.1:${port}`)
}

/** Requests `path` and reports how its stream ended. */
export async function endOf (session: ClientHttp2Session, path: string): Promise<{ status: unknown, body: string, ended: boolean, error: string | undefined, rstCode: number | undefined }> {
  return await new Promise((resolve) => {
    const stream = session.request({ ':path': path })
    let status: unknown
    let body = ''
    let ended = false
    let error: string | undefined
    stream.setEncoding('utf8')
    stream.on('response', (headers) => { status = headers[':status'] })
    stream.on('data', (chunk: string) => { body += chunk })
    stream.on('end', () => { ended = true })
    stream.on('error', (cause: NodeJS.ErrnoException) => { error = cause.code })
    stream.on('close', () => resolve({ status, body, ended, error, rstCode: stream.rstCode }))
  })
}
