import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { connect } from 'node:http2'
import { PassThrough } from 'node:stream'
import { request as undiciRequest } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { deferred } from '../helpers/deferred.js'
import { endOf } from '../helpers/http2.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'
import { sheddingApp } from './helpers.js'

let current: FastifyInstance | undefined
afterEach(async () => { await current?.close() })

// One slot, nobody waits: a second request while the slot is held is refused.
const ONE_SLOT = { loopLag: false, pressure: false, limit: 1, maxQueue: 0 } as const

async function statusOf (port: number, path: string): Promise<number> {
  const response = await undiciRequest(`http://127.0.0.1:${port}${path}`)
  await response.body.text()
  return response.statusCode
}

describe('load shedding: when a slot comes back', () => {
  it('a streamed answer holds its slot until the stream has been written', async () => {
    const { app } = await sheddingApp(ONE_SLOT)
    current = app
    const body = new PassThrough()
    app.get('/stream', async (_request, reply) => reply.type('text/plain').send(body))
    app.get('/next', async () => ({ next: true }))
    const port = await listen(app)
    const request = undiciRequest(`http://127.0.0.1:${port}/stream`)
    body.write('first part\n')
    const streamed = await request
    expect(streamed.statusCode).toBe(200)
    expect(app.loadShedding.stats().inFlight).toBe(1)
    expect(await statusOf(port, '/next')).toBe(503)
    body.end('last part\n')
    expect(await streamed.body.text()).toBe('first part\nlast part\n')
    await waitFor(() => app.loadShedding.stats().inFlight === 0)
    expect(await statusOf(port, '/next')).toBe(200)
  })

  it('a hijacked reply answered within its handler gives its slot back', async () => {
    const { app } = await sheddingApp(ONE_SLOT)
    current = app
    app.get('/raw', (_request, reply) => {
      reply.hijack()
      reply.raw.writeHead(200, { 'content-type': 'text/plain' }).end('raw')
    })
    const port = await listen(app)
    for (let i = 0; i < 3; i++) expect(await statusOf(port, '/raw')).toBe(200)
    await waitFor(() => app.loadShedding.stats().inFlight === 0)
    expect(app.loadShedding.stats().admitted).toBe(3)
  })

  it('a hijacked reply answered in a later turn holds its slot until it is written', async () => {
    const { app } = await sheddingApp(ONE_SLOT)
    current = app
    const gate = deferred()
    app.get('/raw', (_request, reply) => {
      reply.hijack()
      gate.promise.then(() => { reply.raw.writeHead(200, { 'content-type': 'text/plain' }).end('raw') }, () => {})
    })
    app.get('/next', async () => ({ next: true }))
    const port = await listen(app)
    const pending = statusOf(port, '/raw')
    await waitFor(() => app.loadShedding.stats().inFlight === 1)
    expect(await statusOf(port, '/next')).toBe(503)
    gate.resolve()
    expect(await pending).toBe(200)
    await waitFor(() => app.loadShedding.stats().inFlight === 0)
    expect(await statusOf(port, '/next')).toBe(200)
  })

  it('every kind of answer gives its slot back: sent, returned, thrown', async () => {
    const { app } = await sheddingApp(ONE_SLOT)
    current = app
    app.get('/sync', (_request, reply) => { reply.send({ ok: true }) })
    app.get('/async', async () => ({ ok: true }))
    app.get('/fails', async () => { throw new Error('boom') })
    const port = await listen(app)
    for (const [path, status] of [['/sync', 200], ['/async', 200], ['/fails', 500], ['/sync', 200]] as const) {
      expect(await statusOf(port, path)).toBe(status)
      await waitFor(() => app.loadShedding.stats().inFlight === 0)
    }
    expect(app.loadShedding.stats()).toMatchObject({ admitted: 4, shed: { total: 0 } })
  })

  it('over HTTP/2, a stream reset while its handler runs gives its slot back, and answers give theirs', async () => {
    const server = Fastify({ http2: true })
    current = server as unknown as FastifyInstance
    await current.register(resilience, { deadlines: false, idempotency: false, loadShedding: ONE_SLOT })
    const started = deferred()
    const gate = deferred()
    current.get('/slow', async () => { started.resolve(); await gate.promise; return {} })
    current.get('/fast', async () => ({ ok: true }))
    await current.listen({ port: 0, host: '127.0.0.1' })
    const { port } = current.server.address() as { port: number }
    const session = connect(`http://127.0.0.1:${port}`)
    try {
      for (let i = 0; i < 3; i++) expect((await endOf(session, '/fast')).status).toBe(200)
      const stream = session.request({ ':path': '/slow' })
      stream.on('error', () => {})
      await started.promise
      expect(current.loadShedding.stats().inFlight).toBe(1)
      expect((await endOf(session, '/fast')).status).toBe(503)
      stream.close()
      const app = current
      await waitFor(() => app.loadShedding.stats().inFlight === 0)
      expect((await endOf(session, '/fast')).status).toBe(200)
    } finally {
      gate.resolve()
      session.close()
    }
  })
})
