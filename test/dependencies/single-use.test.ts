import got from 'got'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { closedAfterEach } from './helpers.js'
import type { Behaviour } from './helpers.js'

const { serve, appWith } = closedAfterEach()

/** A body that can be sent only once, of each kind fetch takes. */
const STREAMS = {
  'a Node stream': () => Readable.from([Buffer.from('payload')]),
  'a web stream': () => new ReadableStream({ start (controller) { controller.enqueue(new TextEncoder().encode('payload')); controller.close() } }),
}

describe('calls that cannot be told apart by their key, or sent twice', () => {
  it('a POST answered from last-good never gets the answer of another body (another user\'s, behind one service credential)', async () => {
    let up = true
    const server = await serve((request, response) => {
      if (!up) { response.writeHead(503).end(); return }
      const { user } = JSON.parse(request.body) as { user: string }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ user, email: `${user}@example.com` }))
    })
    const { app } = await appWith({ dependencies: { profiles: { baseUrl: server.url, fallback: 'last-good', breaker: false } } })
    app.get('/me', async (request) => {
      const answer = await request.dependency('profiles').fetch('/graphql', { method: 'POST', headers: { authorization: 'Bearer service-token' }, body: JSON.stringify({ user: request.headers['x-user'] }) })
      return await answer.json()
    })
    expect((await app.inject({ url: '/me', headers: { 'x-user': 'alice' } })).json()).toEqual({ user: 'alice', email: 'alice@example.com' })
    up = false
    const bob = await app.inject({ url: '/me', headers: { 'x-user': 'bob' } })
    expect(bob.statusCode).toBe(502)
    expect(bob.body).not.toContain('alice')
  })

  it.each(Object.entries(STREAMS))('a POST whose body is %s is not sent again after a 503 or a 307, and still carries its idempotency key', async (_kind, body) => {
    const seen: Array<string | undefined> = []
    const behaviour: Behaviour = (request, response) => {
      seen.push(request.headers['idempotency-key'] as string | undefined)
      if (request.url === '/upload-307') response.writeHead(307, { location: '/upload-ok' }).end()
      else response.writeHead(503).end()
    }
    const server = await serve(behaviour)
    const { app } = await appWith({ dependencies: { store: { baseUrl: server.url, idempotencyKeys: true, retry: { attempts: 3, backoff: { initialMs: 1 } }, breaker: false } } })
    app.post('/:path', async (request) => {
      const answer = await request.dependency('store').fetch(`/${(request.params as { path: string }).path}`, { method: 'POST', body: body(), duplex: 'half' } as RequestInit)
      return { status: answer.status, location: answer.headers.get('location') }
    })
    const redirected = await app.inject({ method: 'POST', url: '/upload-307' })
    expect(redirected.json()).toEqual({ status: 307, location: '/upload-ok' })
    const failed = await app.inject({ method: 'POST', url: '/upload-503' })
    expect(failed.statusCode).toBe(502)
    expect(failed.json()).toMatchObject({ reason: 'status' })
    expect(seen).toHaveLength(2)
    for (const key of seen) expect(key).toMatch(/^[0-9a-f-]{36}$/)
    expect(app.dependencies.stats().store).toMatchObject({ attempts: 2, retries: 0 })
  })

  it('a connection reset mid-body seen through got in call() is a network failure, retried, then a 502 problem', async () => {
    let hits = 0
    const server = await serve((_request, response) => {
      hits++
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' })
      response.write('{"a":"' + 'x'.repeat(1000))
      setTimeout(() => { response.socket?.destroy() }, 20)
    })
    const { app } = await appWith({ dependencies: { api: { retry: { attempts: 2, backoff: { initialMs: 1 } }, breaker: false } } })
    app.get('/data', async (request) => await request.dependency('api').call(async (signal, headers) => await got(`${server.url}/data`, { signal, headers, retry: { limit: 0 } }).json(), { idempotent: true }))
    const res = await app.inject('/data')
    expect(res.statusCode).toBe(502)
    expect(res.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', reason: 'network' })
    expect(hits).toBe(2)
    expect(app.dependencies.stats().api).toMatchObject({ failures: 2, retries: 1 })
  })
})
