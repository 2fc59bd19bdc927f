import Fastify from 'fastify'
import { connect, constants } from 'node:http2'
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { FastifyInstance } from 'fastify'
import { endOf } from '../helpers/http2.js'

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close() })

describe('problem details over HTTP/2', () => {
  it('a stream that fails after its head is out reaches the client as a reset stream, never as a complete body', async () => {
    const server = Fastify({ http2: true })
    app = server as unknown as FastifyInstance
    await app.register(resilience, { deadlines: false, loadShedding: false })
    app.get('/report', async (_request, reply) => {
      const body = new PassThrough()
      body.write('first rows\n')
      setImmediate(() => body.destroy(new Error('the database went away')))
      return await reply.type('text/plain').send(body)
    })
    app.get('/early', async (_request, reply) => {
      const body = new PassThrough()
      // Fails before anything is written: the error handler still answers a problem.
      body.destroy(new Error('nothing to read'))
      return await reply.send(body)
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const session = connect(`http://127.0.0.1:${port}`)
    try {
      const cut = await endOf(session, '/report')
      expect(cut).toMatchObject({ status: 200, ended: false, error: 'ERR_HTTP2_STREAM_ERROR', rstCode: constants.NGHTTP2_INTERNAL_ERROR })
      const early = await endOf(session, '/early')
      expect(early).toMatchObject({ status: 500, ended: true, error: undefined })
      expect(JSON.parse(early.body)).toMatchObject({ status: 500 })
    } finally {
      session.close()
    }
  })
})
