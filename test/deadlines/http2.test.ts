import Fastify from 'fastify'
import { connect } from 'node:http2'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { FastifyInstance } from 'fastify'
import { deferred } from '../helpers/deferred.js'

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close() })

describe('deadlines over HTTP/2', () => {
  it('a reset stream aborts the signal as client-gone while the connection lives on', async () => {
    const server = Fastify({ http2: true })
    app = server as unknown as FastifyInstance
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 5000 } })
    const started = deferred()
    const observed = deferred<unknown>()
    app.get('/slow', async (request) => {
      request.deadline.signal.addEventListener('abort', () => observed.resolve(request.deadline.signal.reason))
      started.resolve()
      await new Promise(() => {})
    })
    app.get('/fast', async () => ({ ok: true }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const session = connect(`http://127.0.0.1:${port}`)
    try {
      const stream = session.request({ ':path': '/slow' })
      stream.on('error', () => {})
      await started.promise
      stream.close()
      expect(await observed.promise).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED' })

      const fast = session.request({ ':path': '/fast' })
      const chunks: Buffer[] = []
      fast.on('data', (chunk: Buffer) => chunks.push(chunk))
      await new Promise((resolve) => fast.on('end', resolve))
      expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({ ok: true })
    } finally {
      session.close()
    }
  })

  it('the 504 arrives at the deadline over HTTP/2', async () => {
    const server = Fastify({ http2: true })
    app = server as unknown as FastifyInstance
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 50 } })
    app.get('/slow', async () => { await new Promise(() => {}) })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const session = connect(`http://127.0.0.1:${port}`)
    try {
      const stream = session.request({ ':path': '/slow' })
      const [headers] = await new Promise<[Record<string, unknown>]>((resolve) => stream.on('response', (h) => resolve([h])))
      expect(headers[':status']).toBe(504)
      expect(headers['content-type']).toMatch(/^application\/problem\+json/)
      stream.resume()
      await new Promise((resolve) => stream.on('end', resolve))
    } finally {
      session.close()
    }
  })
})
