import Fastify from 'fastify'
import createError from '@fastify/error'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { GENERIC_SERVER_ERROR_DETAIL, ProblemError } from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

async function setup (options: Parameters<typeof resilience>[1] = {}): Promise<TestApp> {
  current = createTestApp()
  await current.app.register(resilience, { loadShedding: false, ...options })
  return current
}

describe('errors become problems', () => {
  it('a thrown error is a 500 problem with a generic detail and no internal message', async () => {
    const { app } = await setup()
    app.get('/boom', async () => { throw new Error('password=hunter2 in connection string') })
    const res = await app.inject('/boom')
    expect(res.statusCode).toBe(500)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    const body = res.json()
    expect(body).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: GENERIC_SERVER_ERROR_DETAIL,
      instance: 'req-1',
    })
    expect(res.body).not.toContain('hunter2')
    expect(res.body).not.toContain('at ')
  })

  it('a rejected promise and a callback-style error in a hook are problems too', async () => {
    const { app } = await setup()
    app.get('/rejected', () => Promise.reject(new Error('nope')))
    app.get('/hook', { onRequest: (_req, _reply, done) => { done(new Error('hook failed')) } }, async () => 'unreached')
    app.get('/prehandler', { preHandler: async () => { throw createError('APP_FORBIDDEN', 'not yours', 403)() } }, async () => 'unreached')
    for (const [url, status] of [['/rejected', 500], ['/hook', 500], ['/prehandler', 403]] as const) {
      const res = await app.inject(url)
      expect(res.statusCode).toBe(status)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json().status).toBe(status)
    }
  })

  it('an error with a 4xx statusCode keeps its message and code', async () => {
    const { app } = await setup()
    const Conflict = createError('APP_ORDER_CLOSED', 'order %s is closed', 409)
    app.get('/conflict', async () => { throw new Conflict('42') })
    const res = await app.inject('/conflict')
    expect(res.statusCode).toBe(409)
    expect(res.json()).toEqual({
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: 'order 42 is closed',
      instance: 'req-1',
      code: 'APP_ORDER_CLOSED',
    })
  })

  it.each([
    ['a status below 400', 302],
    ['a status above 599', 700],
    ['a string status', '404'],
    ['a fractional status', 404.5],
  ])('an error with %s becomes a 500', async (_name, statusCode) => {
    const { app } = await setup()
    app.get('/odd', async () => { throw Object.assign(new Error('odd'), { statusCode }) })
    const res = await app.inject('/odd')
    expect(res.statusCode).toBe(500)
    expect(res.json().status).toBe(500)
    expect(res.json().detail).toBe(GENERIC_SERVER_ERROR_DETAIL)
  })

  it('a thrown non-error value becomes a 500 problem', async () => {
    const { app } = await setup()
    // eslint-disable-next-line no-throw-literal -- the point is a thrown non-error
    app.get('/string', async () => { throw 'just a string' })
    const res = await app.inject('/string')
    expect(res.statusCode).toBe(500)
    expect(res.json().title).toBe('Internal Server Error')
  })

  it('exposeInternalErrors sends the message of a 5xx but never its stack', async () => {
    const { app } = await setup({ problemDetails: { exposeInternalErrors: true } })
    app.get('/boom', async () => { throw new Error('database is down') })
    const res = await app.inject('/boom')
    expect(res.json().detail).toBe('database is down')
    expect(res.body).not.toMatch(/\.ts:\d+/)
    expect(Object.keys(res.json())).not.toContain('stack')
  })

  it('exposeInternalErrors defaults to true only in development', async () => {
    const previous = process.env.NODE_ENV
    process.env.NODE_ENV = 'development'
    try {
      const { app } = await setup()
      app.get('/boom', async () => { throw new Error('visible in development') })
      expect((await app.inject('/boom')).json().detail).toBe('visible in development')
    } finally {
      process.env.NODE_ENV = previous
    }
  })

  it('the real error is logged once at error level with the request id', async () => {
    const { app, logs } = await setup()
    app.get('/boom', async () => { throw new Error('the real cause') })
    await app.inject('/boom')
    const errorLines = logs.filter((line) => line.level >= LOG_LEVEL.error)
    expect(errorLines).toHaveLength(1)
    expect(errorLines[0]?.reqId).toBe('req-1')
    expect(errorLines[0]?.err?.message).toBe('the real cause')
    expect(errorLines[0]?.err?.stack).toContain('the real cause')
  })

  it('client errors are logged at info level, not as errors', async () => {
    const { app, logs } = await setup()
    app.get('/teapot', async () => { throw Object.assign(new Error('short and stout'), { statusCode: 418 }) })
    await app.inject('/teapot')
    expect(logs.filter((line) => line.level >= LOG_LEVEL.error)).toHaveLength(0)
    expect(logs.some((line) => line.level === LOG_LEVEL.info && line.err?.message === 'short and stout')).toBe(true)
  })

  it('a ProblemError is sent as declared, detail included even for a 5xx', async () => {
    const { app } = await setup({ problemDetails: { types: { 'payments-unavailable': { title: 'Payments are unavailable', status: 503 } } } })
    app.get('/pay', async () => { throw new ProblemError({ type: 'payments-unavailable', detail: 'the payment provider timed out', provider: 'acme' }) })
    const res = await app.inject('/pay')
    expect(res.statusCode).toBe(503)
    expect(res.json()).toEqual({
      type: 'urn:fastify-resilience:problem:payments-unavailable',
      title: 'Payments are unavailable',
      status: 503,
      detail: 'the payment provider timed out',
      instance: 'req-1',
      provider: 'acme',
    })
  })

  it('a malformed ProblemError becomes a generic 500 and both errors are logged', async () => {
    const { app, logs } = await setup()
    app.get('/bad', async () => { throw new ProblemError({ type: 'not-registered', detail: 'x' }) })
    const res = await app.inject('/bad')
    expect(res.statusCode).toBe(500)
    expect(res.json().detail).toBe(GENERIC_SERVER_ERROR_DETAIL)
    const messages = logs.filter((line) => line.level >= LOG_LEVEL.error).map((line) => line.err?.message ?? '')
    expect(messages.some((message) => message.includes('not-registered'))).toBe(true)
  })

  it('headers an error asks for are sent, malformed ones are not', async () => {
    const { app } = await setup()
    app.get('/busy', async () => {
      throw Object.assign(new Error('busy'), { statusCode: 429, headers: { 'retry-after': 7, 'bad header': 'x', 'x-split': 'a\r\nset-cookie: b' } })
    })
    const res = await app.inject('/busy')
    expect(res.statusCode).toBe(429)
    expect(res.headers['retry-after']).toBe('7')
    expect(res.headers['x-split']).toBeUndefined()
    expect(res.headers['set-cookie']).toBeUndefined()
  })

  it('an error whose getters throw is a generic 500 problem, and the inner error\'s message stays out of it', async () => {
    const { app, logs } = await setup()
    app.get('/message', async () => { throw Object.defineProperty({ statusCode: 400 }, 'message', { get () { throw new Error('secret inner failure') } }) })
    app.get('/headers', async () => { throw Object.defineProperty(new Error('x'), 'headers', { get () { throw new Error('secret inner failure') } }) })
    for (const url of ['/message', '/headers']) {
      const res = await app.inject(url)
      expect(res.statusCode).toBe(500)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json()).toMatchObject({ status: 500, detail: GENERIC_SERVER_ERROR_DETAIL })
      expect(res.body).not.toContain('secret inner failure')
    }
    expect(logs.filter((line) => line.msg === 'request failed with an error that could not be read' && line.level === LOG_LEVEL.error)).toHaveLength(2)
  })

  it('headers given as a fetch Headers or a Map are sent too; a flat array of them is not read', async () => {
    const { app } = await setup()
    app.get('/headers', async () => { throw Object.assign(new Error('busy'), { statusCode: 503, headers: new Headers({ 'retry-after': '3' }) }) })
    app.get('/map', async () => { throw Object.assign(new Error('busy'), { statusCode: 503, headers: new Map([['retry-after', '4']]) }) })
    app.get('/flat', async () => { throw Object.assign(new Error('busy'), { statusCode: 503, headers: ['retry-after', '5'] }) })
    expect((await app.inject('/headers')).headers['retry-after']).toBe('3')
    expect((await app.inject('/map')).headers['retry-after']).toBe('4')
    const flat = await app.inject('/flat')
    expect(flat.headers['retry-after']).toBeUndefined()
    expect(flat.headers['0']).toBeUndefined()
  })

  it('keeps a status set with reply.code() before the error, as Fastify does; the message is the detail only when the error itself is a 4xx', async () => {
    const { app } = await setup()
    app.get('/throw404', async (_request, reply) => { reply.code(404); throw new Error('order 7 not found') })
    app.get('/send400', async (_request, reply) => reply.code(400).send(createError('APP_CURSOR', 'bad cursor', 400)()))
    app.get('/throw503', async (_request, reply) => { reply.code(503); throw new Error('db at 10.0.0.5 down') })
    // An out-of-range statusCode gives way to status, as in Fastify.
    app.get('/both', async () => { throw Object.assign(new Error('gone'), { statusCode: 200, status: 410 }) })
    const answers = await Promise.all(['/throw404', '/send400', '/throw503', '/both'].map(async (url) => await app.inject(url)))
    expect(answers.map((res) => res.statusCode)).toEqual([404, 400, 503, 410])
    for (const res of answers) expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    const [notFound, badCursor, unavailable, gone] = answers.map((res) => res.json())
    // An error without a status of its own may hold internals: its message stays out.
    expect(notFound).toMatchObject({ status: 404, title: 'Not Found' })
    expect(notFound.detail).toBeUndefined()
    expect(badCursor).toMatchObject({ status: 400, detail: 'bad cursor', code: 'APP_CURSOR' })
    expect(unavailable).toMatchObject({ status: 503, detail: GENERIC_SERVER_ERROR_DETAIL })
    expect(gone).toMatchObject({ status: 410, detail: 'gone' })
  })

  it('keeps a status set with reply.code() with Fastify() as users create it, without a logger', async () => {
    const app = Fastify()
    await app.register(resilience)
    app.get('/throw404', async (_request, reply) => { reply.code(404); throw new Error('order 7 not found') })
    const res = await app.inject('/throw404')
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toMatchObject({ status: 404, title: 'Not Found' })
    await app.close()
  })

  it('a frozen 4xx error keeps its status with a logger on, and is logged as it can be read', async () => {
    const { app, logs } = await setup()
    const conflict = Object.freeze(Object.assign(new Error('already exists'), { statusCode: 409 }))
    app.get('/frozen', async () => { throw conflict })
    const res = await app.inject('/frozen')
    expect(res.statusCode).toBe(409)
    expect(res.json()).toMatchObject({ status: 409, detail: 'already exists' })
    const lines = logs.filter((line) => line.msg === 'request rejected')
    expect(lines).toHaveLength(1)
    expect(lines[0]?.err).toMatchObject({ message: 'already exists' })
    expect(logs.some((line) => line.level >= LOG_LEVEL.error)).toBe(false)
  })

  it('an extension member named toJSON is dropped, so it cannot replace the document', async () => {
    const { app } = await setup()
    app.get('/p', async (_request, reply) => reply.problem({ status: 400, detail: 'bad', toJSON: () => ({ ok: true }) }))
    const res = await app.inject('/p')
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ type: 'about:blank', status: 400, detail: 'bad' })
    expect(res.json().ok).toBeUndefined()
  })

  it('a ProblemError of an unknown type is one error line, naming the type, not a second one for the request', async () => {
    const { app, logs } = await setup()
    app.get('/x', async () => { throw new ProblemError({ type: 'out-of-stok', status: 409, detail: 'SKU 7 sold out' }) })
    const res = await app.inject('/x')
    expect(res.statusCode).toBe(500)
    const errors = logs.filter((line) => line.level >= LOG_LEVEL.error)
    expect(errors).toHaveLength(1)
    expect(errors[0]?.msg).toBe('a ProblemError could not be turned into a problem')
    expect(errors[0]?.err?.message).toContain('out-of-stok')
  })

  it('a handler that already sent a response and then throws does not send twice', async () => {
    const { app, logs } = await setup()
    app.get('/sent', async (_request, reply) => {
      await reply.send({ ok: true })
      throw new Error('after the fact')
    })
    const res = await app.inject('/sent')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ ok: true })
    expect(logs.some((line) => line.err?.message === 'after the fact')).toBe(true)
  })

  it('ignores the route response schema when serialising a problem', async () => {
    const { app } = await setup()
    app.get('/typed', {
      schema: { response: { '4xx': { type: 'object', properties: { message: { type: 'string' } } } } },
    }, async () => { throw Object.assign(new Error('gone'), { statusCode: 410 }) })
    const res = await app.inject('/typed')
    expect(res.json()).toMatchObject({ type: 'about:blank', title: 'Gone', status: 410, detail: 'gone' })
  })
})
