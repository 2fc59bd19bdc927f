import { createServer } from 'node:http'
import type { IncomingHttpHeaders, Server } from 'node:http'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'

let current: TestApp | undefined
let downstream: Server | undefined
afterEach(async () => {
  await current?.app.close()
  downstream?.close()
  downstream = undefined
})

async function setup (timeoutMs = 100): Promise<TestApp> {
  current = createTestApp()
  await current.app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: timeoutMs } })
  return current
}

function unhandledRejections (): { seen: unknown[], stop: () => void } {
  const seen: unknown[] = []
  const listener = (reason: unknown): void => { seen.push(reason) }
  process.on('unhandledRejection', listener)
  return { seen, stop: () => process.off('unhandledRejection', listener) }
}

describe('when the deadline passes during the handler', () => {
  it('answers 504 while the handler is still running, over a real socket', async () => {
    const { app } = await setup(80)
    const release = deferred()
    let handlerFinished = false
    app.get('/slow', async () => {
      await release.promise
      handlerFinished = true
      return { late: true }
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/slow`)
    expect(handlerFinished).toBe(false)
    expect(res.status).toBe(504)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(await res.json()).toMatchObject({
      type: 'urn:fastify-resilience:problem:deadline-exceeded',
      title: 'Deadline exceeded',
      status: 504,
      timeoutMs: 80,
    })
    release.resolve()
  })

  it('aborts the signal with a deadline reason', async () => {
    const { app } = await setup(50)
    const aborted = deferred<unknown>()
    app.get('/slow', async (request) => {
      request.deadline.signal.addEventListener('abort', () => aborted.resolve(request.deadline.signal.reason))
      await new Promise(() => {})
    })
    const res = await app.inject('/slow')
    expect(res.statusCode).toBe(504)
    expect(await aborted.promise).toMatchObject({ code: 'FRS_ERR_DEADLINE_EXCEEDED', statusCode: 504 })
  })

  it('drops a late result without a second send, and logs the event once', async () => {
    const { app, logs } = await setup(50)
    const release = deferred()
    const handlerDone = deferred()
    app.get('/slow', async () => {
      await release.promise
      handlerDone.resolve()
      return { late: true }
    })
    const res = await app.inject('/slow')
    expect(res.statusCode).toBe(504)
    release.resolve()
    await handlerDone.promise
    await new Promise((resolve) => setImmediate(resolve))
    expect(logs.filter((line) => line.msg === 'deadline exceeded; answering 504')).toHaveLength(1)
    expect(logs.filter((line) => line.level >= LOG_LEVEL.warn)).toHaveLength(1)
    expect(logs.filter((line) => line.msg === 'request completed')).toHaveLength(1)
  })

  it.each([
    ['returns', 'a Node stream'],
    ['sends', 'a Node stream'],
    ['returns', 'a web stream'],
    ['sends', 'a web stream'],
  ] as const)('a handler that %s %s after its deadline\'s 504 has it let go, not left unread holding its source, with no warning', async (how, kind) => {
    const { app, logs } = await setup(50)
    const release = deferred()
    const letGo = deferred()
    const late = (): object => kind === 'a Node stream'
      ? new Readable({ read () {}, destroy (error, callback) { letGo.resolve(); callback(error) } })
      : new ReadableStream({ cancel () { letGo.resolve() } })
    app.get('/export', async (_request, reply) => {
      await release.promise
      if (how === 'returns') return late()
      return await reply.send(late())
    })
    expect((await app.inject('/export')).statusCode).toBe(504)
    release.resolve()
    await letGo.promise
    expect(logs.filter((line) => line.level >= LOG_LEVEL.warn).map((line) => line.msg)).toEqual(['deadline exceeded; answering 504'])
  })

  it('a handler that answers by itself as its signal aborts has its answer sent, and the log does not claim a 504', async () => {
    const { app, logs } = await setup(50)
    app.get('/partial', (request, reply) => {
      // What it has so far, sent from the abort listener: within the deadline's own turn.
      request.deadline.signal.addEventListener('abort', () => { reply.send({ partial: true }) })
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/partial`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ partial: true })
    expect(logs.filter((line) => line.level >= LOG_LEVEL.warn).map((line) => line.msg)).toEqual(['deadline exceeded; the request was answered as its work was aborted'])
  })

  it('drops a late rejection without an error log or an unhandled rejection', async () => {
    const { app, logs } = await setup(50)
    const rejections = unhandledRejections()
    const handlerFailed = deferred()
    app.get('/slow', async (request) => {
      try {
        await new Promise((_resolve, reject) => request.deadline.signal.addEventListener('abort', () => reject(request.deadline.signal.reason)))
      } finally {
        setImmediate(() => handlerFailed.resolve())
      }
    })
    const res = await app.inject('/slow')
    expect(res.statusCode).toBe(504)
    await handlerFailed.promise
    await new Promise((resolve) => setTimeout(resolve, 10))
    rejections.stop()
    expect(rejections.seen).toEqual([])
    expect(logs.filter((line) => line.level >= LOG_LEVEL.error)).toEqual([])
    expect(logs.some((line) => line.msg === 'handler failed after its request ended; dropped')).toBe(true)
  })

  it('a handler that answers in time is not touched', async () => {
    const { app } = await setup(1000)
    app.get('/fast', async () => ({ ok: true }))
    const res = await app.inject('/fast')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ ok: true })
  })

  it('a response already on its way when the deadline passes is not replaced', async () => {
    const { app } = await setup(30)
    app.addHook('onSend', async (_request, _reply, payload) => {
      await new Promise((resolve) => setTimeout(resolve, 80))
      return payload
    })
    app.get('/fast', async () => ({ ok: true }))
    const res = await app.inject('/fast')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ ok: true })
  })

  it('a stream that started before the deadline is cut, not turned into a problem', async () => {
    const { app } = await setup(60)
    app.get('/stream', (_request, reply) => {
      reply.raw.writeHead(200, { 'content-type': 'text/plain' })
      reply.raw.write('partial')
      reply.hijack()
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/stream`)
    expect(res.status).toBe(200)
    await expect(res.text()).rejects.toThrow()
  })

  it('the downstream call gets the shrunken budget and is aborted at the deadline', async () => {
    const seen = deferred<{ headers: IncomingHttpHeaders, aborted: Promise<boolean> }>()
    downstream = createServer((req, res) => {
      const aborted = new Promise<boolean>((resolve) => res.once('close', () => resolve(!res.writableFinished)))
      seen.resolve({ headers: req.headers, aborted })
    })
    downstream.listen(0, '127.0.0.1')
    await once(downstream, 'listening')
    const downstreamPort = (downstream.address() as { port: number }).port

    const { app } = await setup(2000)
    const failure = deferred<unknown>()
    app.get('/checkout', async (request) => {
      try {
        return await request.deadline.fetch(`http://127.0.0.1:${downstreamPort}/charge`)
      } catch (error) {
        failure.resolve(error)
        throw error
      }
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/checkout`, { headers: { 'x-request-timeout-ms': '150' } })
    expect(res.status).toBe(504)
    const { headers, aborted } = await seen.promise
    const forwarded = Number(headers['x-request-timeout-ms'])
    expect(forwarded).toBeGreaterThan(0)
    expect(forwarded).toBeLessThanOrEqual(140)
    expect(await aborted).toBe(true)
    expect(await failure.promise).toMatchObject({ name: 'FastifyError', code: 'FRS_ERR_DEADLINE_EXCEEDED' })
  })

  it('a sub-budget that runs out, thrown by the handler, is answered as the deadline-exceeded problem with its time, not a bare 504', async () => {
    const { app, logs } = await setup(10_000)
    app.get('/sub-budget', async (request) => {
      const step = request.deadline.child(50)
      await new Promise((_resolve, reject) => step.signal.addEventListener('abort', () => { reject(step.signal.reason) }))
    })
    const res = await app.inject('/sub-budget')
    expect(res.statusCode).toBe(504)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toMatchObject({
      type: 'urn:fastify-resilience:problem:deadline-exceeded',
      status: 504,
      timeoutMs: 50,
      detail: 'Part of the request\'s work did not complete within the 50 ms it was given.',
    })
    // The request's own deadline (10 s) did not pass: the sub-budget's error answered.
    expect(logs.some((line) => line.msg === 'deadline exceeded; answering 504')).toBe(false)
    expect(logs.find((line) => line.msg === 'request failed')?.err).toMatchObject({ type: 'FastifyError', message: 'fastify-resilience: a deadline of 50 ms was exceeded' })
  })

  it('a sub-budget\'s fetch to a downstream that hangs is aborted at the sub-budget and answered as deadline-exceeded', async () => {
    const aborted = deferred<boolean>()
    downstream = createServer((_req, res) => { res.once('close', () => { aborted.resolve(!res.writableFinished) }) })
    downstream.listen(0, '127.0.0.1')
    await once(downstream, 'listening')
    const downstreamPort = (downstream.address() as { port: number }).port
    const { app } = await setup(10_000)
    app.get('/quote', async (request) => await request.deadline.child(80).fetch(`http://127.0.0.1:${downstreamPort}/quote`))
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/quote`)
    expect(res.status).toBe(504)
    expect(await res.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:deadline-exceeded', timeoutMs: 80 })
    expect(await aborted.promise).toBe(true)
  })
})
