import type { FastifyServerOptions, InjectOptions } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { problemClientErrorHandler, problemFrameworkErrors } from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { expectProblemResponse, parseRawResponse } from '../helpers/problem-schema.js'
import { rawExchange } from '../helpers/raw-http.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

type Strategy = NonNullable<FastifyServerOptions['constraints']>[string]
type Handler = Parameters<ReturnType<Strategy['storage']>['set']>[1]

// A custom constraint whose lookup is asynchronous and fails for one value,
// the only way to reach FST_ERR_ASYNC_CONSTRAINT. Fastify's types know only
// synchronous constraints, hence the cast where it is passed.
const tenantConstraint = {
  name: 'tenant',
  storage () {
    const handlers = new Map<string, Handler>()
    return {
      get: (value: string) => handlers.get(value) ?? null,
      set: (value: string, handler: Handler) => { handlers.set(value, handler) },
    }
  },
  deriveConstraint (request: { headers: Record<string, unknown> }, _context: unknown, done: (error: Error | null, value?: string) => void) {
    const tenant = request.headers['x-tenant']
    setImmediate(() => {
      if (tenant === 'broken') done(new Error('tenant directory unreachable'))
      else done(null, typeof tenant === 'string' ? tenant : 'none')
    })
  },
  validate () {},
}

async function setup (): Promise<TestApp> {
  current = createTestApp({
    bodyLimit: 1024,
    maxParamLength: 20,
    frameworkErrors: problemFrameworkErrors,
    clientErrorHandler: problemClientErrorHandler,
    constraints: { tenant: tenantConstraint as unknown as Strategy },
  })
  await current.app.register(resilience)
  current.app.post('/echo', async (request) => ({ received: request.body }))
  current.app.get('/items/:id', async (request) => request.params)
  current.app.get('/tenants', { constraints: { tenant: 'acme' } }, async () => ({ tenant: 'acme' }))
  return current
}

interface InjectCase {
  name: string
  request: InjectOptions
  status: number
  code?: string
}

const injected: InjectCase[] = [
  { name: 'bad URL encoding', request: { url: '/%z' }, status: 400, code: 'FST_ERR_BAD_URL' },
  { name: 'bad URL encoding in a parameter', request: { url: '/items/%E0%A4%A' }, status: 400, code: 'FST_ERR_BAD_URL' },
  { name: 'an over-long route parameter', request: { url: `/items/${'a'.repeat(100)}` }, status: 414, code: 'FST_ERR_MAX_PARAM_LENGTH' },
  { name: 'bad JSON', request: { method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' }, status: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' },
  { name: 'an empty JSON body', request: { method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '' }, status: 400, code: 'FST_ERR_CTP_EMPTY_JSON_BODY' },
  { name: 'an unsupported media type', request: { method: 'POST', url: '/echo', headers: { 'content-type': 'application/x-unknown' }, payload: 'abc' }, status: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' },
  { name: 'an invalid content-type header', request: { method: 'POST', url: '/echo', headers: { 'content-type': '/;;' }, payload: 'abc' }, status: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' },
  { name: 'a body over the limit', request: { method: 'POST', url: '/echo', payload: { blob: 'x'.repeat(4096) } }, status: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' },
  { name: 'a content-length that does not match the body', request: { method: 'POST', url: '/echo', headers: { 'content-type': 'application/json', 'content-length': '3' }, payload: '{"a":1}' }, status: 400, code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' },
  { name: 'an unknown route', request: { url: '/nowhere' }, status: 404 },
  { name: 'a route whose constraint does not match', request: { url: '/tenants', headers: { 'x-tenant': 'other' } }, status: 404 },
  { name: 'an asynchronous constraint that fails', request: { url: '/tenants', headers: { 'x-tenant': 'broken' } }, status: 500 },
]

describe('every error Fastify answers is a problem', () => {
  it.each(injected.map((entry) => [entry.name, entry] as const))('%s', async (_name, { request, status, code }) => {
    const { app, logs } = await setup()
    const res = await app.inject(request)
    const problem = expectProblemResponse(res, { status })
    expect(problem.type).toBe('about:blank')
    if (code !== undefined) expect(problem.code).toBe(code)
    const id = String(problem.instance)
    // The instance is the request id of the log line that explains the answer.
    expect(logs.some((line) => line.reqId === decodeURIComponent(id) && line.level >= LOG_LEVEL.info)).toBe(true)
  })

  it('the raw path is never echoed, escaped or not', async () => {
    const { app } = await setup()
    for (const url of ['/%z<script>alert(1)</script>', `/items/${'<b>'.repeat(40)}`]) {
      const res = await app.inject({ url })
      expectProblemResponse(res)
      expect(res.body).not.toContain('<')
      expect(res.body).not.toContain('script')
      expect(res.body).not.toContain('%z')
    }
  })

  it('a failing asynchronous constraint is logged as an error with a generic detail', async () => {
    const { app, logs } = await setup()
    const res = await app.inject({ url: '/tenants', headers: { 'x-tenant': 'broken' } })
    expect(res.json().detail).not.toMatch(/constraint|tenant/i)
    expect(logs.some((line) => line.level === LOG_LEVEL.error && line.err?.message === 'Unexpected error from async constraint')).toBe(true)
    expect((await app.inject({ url: '/tenants', headers: { 'x-tenant': 'acme' } })).json()).toEqual({ tenant: 'acme' })
  })

  it('a HEAD request with a bad URL gets the problem head and no body', async () => {
    const { app } = await setup()
    const res = await app.inject({ method: 'HEAD', url: '/%z' })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.body).toBe('')
  })

  it.each([
    ['bad URL encoding', 'GET /%z HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', 400, true],
    ['an over-long route parameter', `GET /items/${'a'.repeat(100)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, 414, true],
    ['broken framing', 'POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, false],
    ['an invalid header name', 'GET /echo HTTP/1.1\r\nHost: localhost\r\nBad Header: 1\r\n\r\n', 400, false],
    ['a control character in a header value', 'GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Value: a\u0001b\r\n\r\n', 400, false],
    ['a content-length that is not a number', 'POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n', 400, false],
    ['headers over the size limit', `GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, false],
  ])('over a real socket, %s is a problem', async (_name, bytes, status, instance) => {
    const { app } = await setup()
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    expectProblemResponse(parseRawResponse(await rawExchange(port, bytes)), { status, instance })
  })
})
