import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'

/*
 * Every kind of stream Fastify 5 sends (a Node Readable, a web
 * ReadableStream, a fetch Response around one) is bounded by the route's
 * deadline until its last byte: each stream here would run for five
 * seconds, the deadline is 300 ms, and the client must see a broken body.
 */

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const CHUNKS = 50
const CHUNK_EVERY_MS = 100

/** A web stream of CHUNKS lines, one every CHUNK_EVERY_MS; `cancelled` resolves when its reader gives up on it. */
function slowWebStream (cancelled: { resolve: (value: unknown) => void }): ReadableStream<Uint8Array> {
  let sent = 0
  return new ReadableStream<Uint8Array>({
    async pull (controller) {
      await sleep(CHUNK_EVERY_MS)
      if (sent === CHUNKS) { controller.close(); return }
      sent++
      controller.enqueue(new TextEncoder().encode(`line ${sent}\n`))
    },
    cancel (reason) { cancelled.resolve(reason) },
  })
}

function slowNodeStream (): Readable {
  let sent = 0
  return new Readable({
    read () {
      if (sent === CHUNKS) { this.push(null); return }
      sent++
      setTimeout(() => this.push(`line ${sent}\n`), CHUNK_EVERY_MS)
    },
  })
}

const bodies = {
  'a web ReadableStream': (cancelled: { resolve: (value: unknown) => void }) => slowWebStream(cancelled),
  'a fetch Response': (cancelled: { resolve: (value: unknown) => void }) => new Response(slowWebStream(cancelled), { headers: { 'content-type': 'text/plain' } }),
}

describe('streams at the deadline', () => {
  for (const [kind, body] of Object.entries(bodies)) {
    it(`${kind} still being written at the deadline is cut, its source cancelled`, async () => {
      current = createTestApp()
      const { app } = current
      await app.register(resilience, { loadShedding: false })
      const aborted = deferred<unknown>()
      const cancelled = deferred<unknown>()
      app.get('/export', { config: { deadline: { timeoutMs: 300 } } }, async (request, reply) => {
        request.deadline.signal.addEventListener('abort', () => { aborted.resolve(request.deadline.signal.reason) })
        return reply.type('text/plain').send(body(cancelled))
      })
      const port = await listen(app)
      const res = await fetch(`http://127.0.0.1:${port}/export`)
      expect(res.status).toBe(200)
      // Cut: the body breaks off instead of running its five seconds to the end.
      await expect(res.text()).rejects.toThrow()
      expect(await aborted.promise).toMatchObject({ code: 'FRS_ERR_DEADLINE_EXCEEDED' })
      await cancelled.promise
    })
  }

  it('a web stream that ends before its deadline is sent whole', async () => {
    current = createTestApp()
    const { app } = current
    await app.register(resilience, { loadShedding: false })
    app.get('/short', { config: { deadline: { timeoutMs: 5000 } } }, async (_request, reply) => {
      const lines = ['a\n', 'b\n', 'c\n']
      return reply.type('text/plain').send(new Response(new ReadableStream({
        pull (controller) {
          const line = lines.shift()
          if (line === undefined) controller.close()
          else controller.enqueue(new TextEncoder().encode(line))
        },
      })))
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/short`)
    expect(await res.text()).toBe('a\nb\nc\n')
  })

  it('a cut stream logs that its answer was cut, not that a 504 is sent', async () => {
    current = createTestApp()
    const { app, logs } = current
    await app.register(resilience, { loadShedding: false })
    const aborted = deferred()
    app.get('/export', { config: { deadline: { timeoutMs: 300 } } }, async (request, reply) => {
      request.deadline.signal.addEventListener('abort', () => { aborted.resolve() })
      return reply.type('text/plain').send(slowNodeStream())
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/export`)
    await expect(res.text()).rejects.toThrow()
    await aborted.promise
    const warnings = logs.filter((line) => line.level === LOG_LEVEL.warn)
    expect(warnings.map((line) => line.msg)).toEqual(['deadline exceeded; the answer under way is cut'])
    expect(warnings[0]).toMatchObject({ timeoutMs: 300 })
  })
})
