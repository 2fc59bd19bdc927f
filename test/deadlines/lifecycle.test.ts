import { Readable } from 'node:stream'
import { connect } from 'node:http2'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import resilience from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'

let current: TestApp | undefined
let h2: FastifyInstance | undefined
afterEach(async () => {
  await current?.app.close()
  await h2?.close()
  h2 = undefined
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function busyFor (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* a handler that blocks the event loop */ }
}

describe('deadline lifecycle regressions', () => {
  it('a deadline passing while an async onError hook runs does not crash; the error answer is sent', async () => {
    current = createTestApp()
    const { app, logs } = current
    app.addHook('onError', async () => { await sleep(100) })
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 50 } })
    // Thrown at once, within the turn the request arrived in: no timer can
    // run before it, so the deadline always passes during onError's wait,
    // however slow the machine (a sleep here could outlast the deadline).
    app.get('/fails', async () => {
      throw Object.assign(new Error('teapot'), { statusCode: 418 })
    })
    const res = await app.inject('/fails')
    expect(res.statusCode).toBe(418)
    expect(res.json()).toMatchObject({ status: 418, detail: 'teapot' })
    expect(logs.filter((line) => line.level >= LOG_LEVEL.error)).toEqual([])
  })

  it('an answer held up in a slow onSend hook registered before the plugin is not replaced by a 504', async () => {
    current = createTestApp()
    const { app } = current
    app.addHook('onSend', async (_request, _reply, payload) => {
      await sleep(80)
      return payload
    })
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 40 } })
    app.get('/answer', async () => ({ ok: true }))
    const res = await app.inject('/answer')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ ok: true })
  })

  it('an answer held up in a slow preSerialization hook is not replaced by a 504', async () => {
    current = createTestApp()
    const { app, logs } = current
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 40 } })
    app.addHook('preSerialization', async (_request, _reply, payload) => {
      await sleep(80)
      return payload
    })
    app.get('/answer', async () => ({ ok: true }))
    const res = await app.inject('/answer')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ ok: true })
    expect(logs.filter((line) => line.level >= LOG_LEVEL.warn)).toEqual([])
  })

  it("an application's own handler wrapper, added after the plugin, awaits the answer and the failure of an async handler", async () => {
    current = createTestApp()
    const { app } = current
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 5000 } })
    const seen: string[] = []
    app.addHook('onRoute', (routeOptions) => {
      const handler = routeOptions.handler
      routeOptions.handler = async function wrapped (request, reply) {
        try {
          const answer: unknown = await handler.call(this, request, reply)
          seen.push(`answer ${JSON.stringify(answer)}`)
          return answer
        } catch (error) {
          seen.push(`failure ${(error as Error).message}`)
          throw error
        }
      }
    })
    app.get('/answer', async () => ({ ok: true }))
    app.get('/failure', async () => { throw new Error('broken') })
    const answered = await app.inject('/answer')
    const failed = await app.inject('/failure')
    expect(answered.statusCode).toBe(200)
    expect(answered.json()).toEqual({ ok: true })
    expect(failed.statusCode).toBe(500)
    expect(failed.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(seen).toEqual(['answer {"ok":true}', 'failure broken'])
  })

  it('a caller budget armed after a busy turn still fires at its expiry', async () => {
    current = createTestApp()
    const { app } = current
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 5000, safetyMarginMs: 0 } })
    const lateness = deferred<number>()
    app.get('/busy', async (request) => {
      const startedAt = performance.now()
      busyFor(1000)
      request.deadline.signal.addEventListener('abort', () => lateness.resolve(performance.now() - startedAt - 1200))
      await new Promise(() => {})
    })
    const res = await app.inject({ url: '/busy', headers: { 'x-request-timeout-ms': '1200' } })
    expect(res.statusCode).toBe(504)
    // Armed from the arrival, not a turn later: armed after the busy turn it
    // would fire 1,000 ms late. The bound leaves a busy machine 700 ms of
    // scheduling delay.
    expect(await lateness.promise).toBeLessThan(700)
  })

  it('time spent in slower onRequest hooks counts against the budget', async () => {
    current = createTestApp()
    const { app } = current
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 5000 } })
    app.addHook('onRequest', async () => { await sleep(60) })
    const handler = vi.fn(async () => 'unreached')
    app.get('/authed', handler)
    const res = await app.inject({ url: '/authed', headers: { 'x-request-timeout-ms': '50' } })
    expect(res.statusCode).toBe(504)
    expect(res.json().detail).toMatch(/had 0 ms left when it reached its route/)
    expect(handler).not.toHaveBeenCalled()
  })

  it('a streamed answer still writing at the deadline is cut', async () => {
    current = createTestApp()
    const { app } = current
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 60 } })
    const aborted = deferred<unknown>()
    app.get('/stream', async (request, reply) => {
      request.deadline.signal.addEventListener('abort', () => aborted.resolve(request.deadline.signal.reason))
      let sent = 0
      const body = new Readable({
        read () {
          if (sent === 10) { this.push(null); return }
          sent += 1
          setTimeout(() => this.push(`chunk ${sent}\n`), 30)
        },
      })
      return reply.type('text/plain').send(body)
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/stream`)
    expect(res.status).toBe(200)
    await expect(res.text()).rejects.toThrow()
    expect(await aborted.promise).toMatchObject({ code: 'FRS_ERR_DEADLINE_EXCEEDED' })
  })

  it('a stream that finishes in time is left alone', async () => {
    current = createTestApp()
    const { app } = current
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 1000 } })
    app.get('/stream', async (_request, reply) => reply.type('text/plain').send(Readable.from(['a', 'b', 'c'])))
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/stream`)
    expect(await res.text()).toBe('abc')
  })

  it('an HTTP/2 stream reset right after the request is seen as the client leaving', async () => {
    h2 = Fastify({ http2: true }) as unknown as FastifyInstance
    await h2.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 2000 } })
    const reason = deferred<unknown>()
    h2.get('/slow', async (request) => {
      request.deadline.signal.addEventListener('abort', () => reason.resolve(request.deadline.signal.reason))
      await new Promise(() => {})
    })
    await h2.listen({ port: 0, host: '127.0.0.1' })
    const { port } = h2.server.address() as { port: number }
    const session = connect(`http://127.0.0.1:${port}`)
    try {
      const stream = session.request({ ':path': '/slow' })
      stream.on('error', () => {})
      stream.close()
      expect(await reason.promise).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED' })
    } finally {
      session.close()
    }
  })
})
