import Fastify from 'fastify'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { once } from 'node:events'
import { Agent, interceptors, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { FastifyInstance } from 'fastify'
import { connect } from 'node:net'

let app: FastifyInstance | undefined
let upstream: Server | undefined
let client: Agent | undefined
afterEach(async () => {
  await app?.close()
  upstream?.close()
  await client?.close()
})

/**
 * A handler calling an upstream through undici's responseError interceptor:
 * the upstream's 404 becomes an error whose `headers` are the upstream's
 * response headers, and the handler lets it propagate.
 */
async function setup (): Promise<number> {
  upstream = createServer((_request, response) => {
    response.writeHead(404, { 'content-type': 'application/json', 'set-cookie': 'upstream_session=secret; HttpOnly', 'x-upstream': 'db-7' })
    // Two writes: the upstream answers chunked.
    response.write('{"error":')
    response.end('"not found"}')
  })
  upstream.listen(0, '127.0.0.1')
  await once(upstream, 'listening')
  const { port: upstreamPort } = upstream.address() as { port: number }
  client = new Agent().compose(interceptors.responseError()) as Agent
  const dispatcher = client
  app = Fastify()
  await app.register(resilience, { loadShedding: false })
  app.get('/items/:id', async () => {
    const answer = await request(`http://127.0.0.1:${upstreamPort}/items/7`, { dispatcher })
    return await answer.body.json()
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as { port: number }).port
}

describe('an HTTP client error carrying its upstream\'s headers', () => {
  it('answers a readable problem that keeps none of the upstream\'s framing, connection or cookie headers', async () => {
    const port = await setup()
    const answer = await fetch(`http://127.0.0.1:${port}/items/7`)
    expect(answer.status).toBe(404)
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(await answer.json()).toMatchObject({ status: 404 })
    expect(answer.headers.get('set-cookie')).toBeNull()

    const raw = await exchange(port, 'GET /items/7 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
    const head = (raw.split('\r\n\r\n')[0] ?? '').toLowerCase()
    expect(head).toMatch(/^http\/1\.1 404 /)
    expect(head).toContain('content-length:')
    expect(head).not.toContain('transfer-encoding')
    expect(head).toContain('connection: close')
    expect(head).not.toContain('keep-alive')
    expect(head).not.toContain('set-cookie')
    // Other headers of the error are honoured, as Fastify does.
    expect(head).toContain('x-upstream: db-7')
  })
})

/** Writes a request without half-closing (Node aborts a request whose client half-closed) and reads until the server closes. */
async function exchange (port: number, bytes: string): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  socket.write(bytes)
  await once(socket, 'close')
  return Buffer.concat(chunks).toString('latin1')
}
