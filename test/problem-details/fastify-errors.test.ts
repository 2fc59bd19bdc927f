import { once } from 'node:events'
import { connect } from 'node:net'
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import resilience, { problemClientErrorHandler } from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { rawExchange } from '../helpers/raw-http.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

async function setup (): Promise<TestApp> {
  current = createTestApp({ bodyLimit: 1024, clientErrorHandler: problemClientErrorHandler })
  await current.app.register(resilience, { loadShedding: false })
  current.app.post('/echo', async (request) => ({ received: request.body }))
  return current
}

function expectClientProblem (res: { statusCode: number, headers: Record<string, unknown>, json: () => Record<string, unknown> }, status: number, code: string): void {
  expect(res.statusCode).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(res.json()).toMatchObject({ type: 'about:blank', status, code })
}

describe('fastify errors', () => {
  it('malformed JSON is a 400 problem', async () => {
    const { app } = await setup()
    const res = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' })
    expectClientProblem(res, 400, 'FST_ERR_CTP_INVALID_JSON_BODY')
  })

  it('an empty JSON body is a 400 problem', async () => {
    const { app } = await setup()
    const res = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '' })
    expectClientProblem(res, 400, 'FST_ERR_CTP_EMPTY_JSON_BODY')
  })

  it('an unsupported content type is a 415 problem', async () => {
    const { app } = await setup()
    const res = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/x-unknown' }, payload: 'abc' })
    expectClientProblem(res, 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
  })

  it('a body over the limit is a 413 problem', async () => {
    const { app } = await setup()
    const res = await app.inject({ method: 'POST', url: '/echo', payload: { blob: 'x'.repeat(4096) } })
    expectClientProblem(res, 413, 'FST_ERR_CTP_BODY_TOO_LARGE')
  })

  it('a huge streamed body over a real socket is a 413 problem, not a 500', async () => {
    const { app, logs } = await setup()
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const chunk = 'x'.repeat(64 * 1024)
    const body = `{"blob":"${chunk.repeat(16)}"}`
    const wire = await rawExchange(port,
      `POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`)
    expect(wire).toMatch(/^HTTP\/1\.1 413 /)
    expect(wire).toMatch(/content-type: application\/problem\+json/i)
    expect(wire).toContain('"code":"FST_ERR_CTP_BODY_TOO_LARGE"')
    expect(logs.filter((line) => line.level >= LOG_LEVEL.error)).toHaveLength(0)
  })

  it.each([
    ['broken framing', 'POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
    ['a header line without a colon', 'GET /echo HTTP/1.1\r\nHost: localhost\r\nnot a header\r\n\r\n', 400],
    ['headers over the size limit', `GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ])('malformed HTTP (%s) is answered with a problem by problemClientErrorHandler', async (_name, bytes, status) => {
    const { app } = await setup()
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const wire = await rawExchange(port, bytes)
    const [head, body] = wire.split('\r\n\r\n')
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `))
    expect(head).toMatch(/content-type: application\/problem\+json/i)
    expect(JSON.parse(body ?? '')).toMatchObject({ type: 'about:blank', status })
  })

  it('a malformed request pipelined behind a streamed answer closes the connection without writing into that answer', async () => {
    const { app } = await setup()
    const body = new PassThrough()
    app.get('/stream', async (_request, reply) => {
      body.write('first chunk\n')
      return await reply.type('text/plain').send(body)
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const socket = connect(port, '127.0.0.1')
    let wire = ''
    socket.on('data', (chunk: Buffer) => { wire += chunk.toString('latin1') })
    socket.write('GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await vi.waitFor(() => { expect(wire).toContain('first chunk') })
    socket.write('BAD\u0001 / HTTP/1.1\r\n\r\n')
    await once(socket, 'close')
    body.destroy()
    expect(wire).toMatch(/^HTTP\/1\.1 200 /)
    expect(wire).not.toContain('HTTP/1.1 400')
    expect(wire).not.toContain('problem+json')
  })
})
