import Fastify from 'fastify'
import { constants } from 'node:http2'
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { LOG_LEVEL, createTestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { connectTo, endOf } from '../helpers/http2.js'
import { waitFor } from '../helpers/wait-for.js'

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
    const session = await connectTo(app)
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

  it("a reset stream aborts Fastify's own request.signal too, as without the plugin", async () => {
    const server = Fastify({ http2: true })
    app = server as unknown as FastifyInstance
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 5000 } })
    const started = deferred()
    const observed = deferred<{ fastify: unknown, deadline: unknown }>()
    app.get('/slow', async (request) => {
      const signal = request.signal
      request.deadline.signal.addEventListener('abort', () => {
        // Both have heard of the reset by the time the plugin's signal aborts.
        observed.resolve({ fastify: signal.aborted ? signal.reason : 'not aborted', deadline: request.deadline.signal.reason })
      })
      started.resolve()
      await new Promise(() => {})
    })
    const session = await connectTo(app)
    try {
      const stream = session.request({ ':path': '/slow' })
      stream.on('error', () => {})
      await started.promise
      stream.close(constants.NGHTTP2_CANCEL)
      expect(await observed.promise).toMatchObject({ fastify: { name: 'AbortError' }, deadline: { code: 'FRS_ERR_CLIENT_CLOSED' } })
    } finally {
      session.close()
    }
  })

  it('a stream reset while its body is being sent logs nothing above info and runs no handler', async () => {
    // createTestApp is typed for HTTP/1 options; its logger is what this test needs.
    const { app: server, logs } = createTestApp({ http2: true } as unknown as FastifyServerOptions)
    app = server
    await app.register(resilience, { loadShedding: false })
    let runs = 0
    app.post('/orders', async (request) => { runs++; return { ok: request.body } })
    const session = await connectTo(app)
    try {
      const stream = session.request({ ':path': '/orders', ':method': 'POST', 'content-type': 'application/json', 'content-length': '64' })
      stream.on('error', () => {})
      stream.write('{"a":')
      await waitFor(() => logs.some((line) => line.msg === 'incoming request'))
      await new Promise((resolve) => setTimeout(resolve, 20))
      stream.close()
      await waitFor(() => logs.some((line) => line.msg === 'client closed the connection before the response; its work was aborted'))
      // Fastify's body parser fails on the cut body right after.
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(logs.filter((line) => line.level >= LOG_LEVEL.warn).map((line) => line.msg)).toEqual([])
      expect(runs).toBe(0)
    } finally {
      session.close()
    }
  })

  it('the 504 arrives at the deadline over HTTP/2', async () => {
    const server = Fastify({ http2: true })
    app = server as unknown as FastifyInstance
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 50 } })
    app.get('/slow', async () => { await new Promise(() => {}) })
    const session = await connectTo(app)
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

  it('a streamed or hijacked answer cut at the deadline reaches the client as a reset stream, never as a complete body', async () => {
    const server = Fastify({ http2: true })
    app = server as unknown as FastifyInstance
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 100 } })
    app.get('/stream', async (_request, reply) => {
      const body = new PassThrough()
      body.write('first chunk\n')
      // The rest never comes: the deadline cuts the answer after its head.
      return await reply.type('text/plain').send(body)
    })
    app.get('/hijacked', async (_request, reply) => {
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'text/plain' })
      reply.raw.write('first chunk\n')
    })
    app.get('/fast', async () => ({ ok: true }))
    const session = await connectTo(app)
    try {
      for (const path of ['/stream', '/hijacked']) {
        const ending = await endOf(session, path)
        expect(ending.status).toBe(200)
        expect(ending.body).toBe('first chunk\n')
        expect(ending.ended).toBe(false)
        expect(ending.error).toBe('ERR_HTTP2_STREAM_ERROR')
        expect(ending.rstCode).toBe(constants.NGHTTP2_INTERNAL_ERROR)
      }
      // Only the stream was reset: the connection carries the next request.
      const fast = await endOf(session, '/fast')
      expect(fast).toMatchObject({ status: 200, ended: true, error: undefined })
      expect(JSON.parse(fast.body)).toEqual({ ok: true })
    } finally {
      session.close()
    }
  })
})
