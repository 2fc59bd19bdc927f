import Fastify from 'fastify'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import Stripe from 'stripe'
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest'
import resilience, { MemoryIdempotencyStore, RedisIdempotencyStore } from '../../plugins/index.js'
import type { IdempotencyStore, ResilienceOptions } from '../../plugins/index.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'

/*
 * Exactly once when the first client does not wait for the answer: it gave
 * up (a client timeout, an abort) or got the deadline's 504 while the
 * handler ran. Every retry gets the handler's own answer, never a second
 * run. Real clients over real sockets, apps as users create them
 * (`Fastify()`, no logger).
 */

const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
afterAll(async () => { await redis.quit() })

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map(async (app) => { await app.close() }))
})

let keyspace = 0
const stores: Record<string, () => IdempotencyStore> = {
  memory: () => new MemoryIdempotencyStore(),
  redis: () => new RedisIdempotencyStore({ client: redis, prefix: `test:gone:${++keyspace}:` }),
}

// An async handler, or a callback one that answers with reply.send() and returns nothing.
type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown> | void

async function startApp (options: ResilienceOptions, handler: Handler, routeConfig: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, port: number }> {
  const app = Fastify()
  apps.push(app)
  // The umbrella's defaults, minus load shedding: these tests are about the
  // answer a retry gets, not about admission on a busy machine.
  await app.register(resilience, { loadShedding: false, ...options })
  app.post('/orders', { config: { idempotency: {}, ...routeConfig } }, handler)
  return { app, port: await listen(app) }
}

function post (port: number, key: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/orders`, {
    method: 'POST',
    headers: { 'idempotency-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ sku: 7 }),
    ...(signal === undefined ? {} : { signal }),
  })
}

/**
 * Sends a request and aborts it once the handler has started, as a client
 * that times out does; returns once the server has seen the connection close.
 */
async function postAndLeave (port: number, key: string, started: Promise<FastifyRequest>): Promise<void> {
  const controller = new AbortController()
  const pending = post(port, key, controller.signal).catch((error: unknown) => error)
  const request = await started
  const closed = new Promise((resolve) => { request.raw.socket.once('close', resolve) })
  controller.abort()
  expect(await pending).toBeInstanceOf(Error)
  await closed
}

/**
 * Retries until the key stops being in use, as a client that honours the
 * 409 does; returns the first other answer.
 */
async function retryUntilAnswered (port: number, key: string): Promise<Response> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const answer = await post(port, key)
    if (answer.status !== 409) return answer
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error('the key was never answered')
}

for (const [storeName, makeStore] of Object.entries(stores)) {
  for (const deadlinesOn of [true, false]) {
    describe(`a client that leaves while its handler runs (${storeName} store, deadlines ${deadlinesOn ? 'on' : 'off'})`, () => {
      const options = (): ResilienceOptions => ({ idempotency: { unscoped: true, store: makeStore() }, ...(deadlinesOn ? {} : { deadlines: false }) })

      it('does not run the handler again: a retry while it runs is refused, a retry after it gets its answer', async () => {
        const started = deferred<FastifyRequest>()
        const finish = deferred()
        let runs = 0
        const { port } = await startApp(options(), async (request, reply) => {
          runs++
          started.resolve(request)
          await finish.promise
          reply.code(201).header('location', '/orders/1')
          return { order: 1, run: runs }
        })
        await postAndLeave(port, 'left-1', started.promise)

        const during = await post(port, 'left-1')
        expect(during.status).toBe(409)
        expect(during.headers.get('content-type')).toMatch(/^application\/problem\+json/)

        finish.resolve()
        const after = await retryUntilAnswered(port, 'left-1')
        expect(after.status).toBe(201)
        expect(after.headers.get('idempotent-replayed')).toBe('true')
        expect(after.headers.get('location')).toBe('/orders/1')
        expect(await after.json()).toEqual({ order: 1, run: 1 })
        expect(runs).toBe(1)
      })

      it('stores an answer sent with reply.send() after the client left', async () => {
        const started = deferred<FastifyRequest>()
        const finish = deferred()
        let runs = 0
        const { port } = await startApp(options(), async (request, reply) => {
          runs++
          started.resolve(request)
          await finish.promise
          return reply.code(202).send({ accepted: true })
        })
        await postAndLeave(port, 'left-2', started.promise)
        finish.resolve()
        const after = await retryUntilAnswered(port, 'left-2')
        expect(after.status).toBe(202)
        expect(await after.json()).toEqual({ accepted: true })
        expect(runs).toBe(1)
      })

      it('stores an answer sent from a callback after the handler returned the reply and its client left', async () => {
        const started = deferred<FastifyRequest>()
        const finish = deferred()
        let runs = 0
        // A returned reply settles the handler's promise when the connection closes.
        const { port } = await startApp(options(), async (request, reply) => {
          runs++
          finish.promise.then(() => reply.code(201).send({ charge: runs }), () => undefined)
          started.resolve(request)
          return reply
        })
        await postAndLeave(port, 'left-3', started.promise)
        expect((await post(port, 'left-3')).status).toBe(409)
        finish.resolve()
        const after = await retryUntilAnswered(port, 'left-3')
        expect(after.status).toBe(201)
        expect(await after.json()).toEqual({ charge: 1 })
        expect(runs).toBe(1)
      })
    })
  }

  describe(`a callback-style handler whose client leaves before it answers (${storeName} store)`, () => {
    it('stores the answer the callback sends', async () => {
      const started = deferred<FastifyRequest>()
      const finish = deferred()
      let runs = 0
      const app = Fastify()
      apps.push(app)
      await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, store: makeStore() } })
      app.post('/orders', { config: { idempotency: {} } }, function (request, reply) {
        runs++
        started.resolve(request)
        finish.promise.then(() => reply.code(201).send({ order: runs }), () => undefined)
      })
      const port = await listen(app)
      await postAndLeave(port, 'callback-1', started.promise)
      finish.resolve()
      const after = await retryUntilAnswered(port, 'callback-1')
      expect(after.status).toBe(201)
      expect(after.headers.get('idempotent-replayed')).toBe('true')
      expect(await after.json()).toEqual({ order: 1 })
      expect(runs).toBe(1)
    })
  })

  describe(`a handler that outlives its deadline (${storeName} store)`, () => {
    const options = (): ResilienceOptions => ({ idempotency: { unscoped: true, store: makeStore() } })

    it('the first client gets the 504, every retry the answer the handler finished with', async () => {
      const finish = deferred()
      let runs = 0
      const { port } = await startApp(options(), async (_request, reply) => {
        runs++
        reply.code(201).header('location', '/orders/9')
        // Ignores request.deadline.signal, as handlers that call a client
        // without a signal do.
        await finish.promise
        return { order: 9 }
      }, { deadline: { timeoutMs: 100 } })
      const first = await post(port, 'late-1')
      expect(first.status).toBe(504)
      expect(runs).toBe(1)
      expect((await post(port, 'late-1')).status).toBe(409)
      finish.resolve()
      const after = await retryUntilAnswered(port, 'late-1')
      expect(after.status).toBe(201)
      expect(after.headers.get('content-type')).toBe('application/json; charset=utf-8')
      expect(after.headers.get('location')).toBe('/orders/9')
      expect(after.headers.get('idempotent-replayed')).toBe('true')
      expect(await after.json()).toEqual({ order: 9 })
      expect(runs).toBe(1)
    })

    it('an answer the handler sends itself after the 504 is stored with its own status and type', async () => {
      const finish = deferred()
      let runs = 0
      const { port } = await startApp(options(), async (_request, reply) => {
        runs++
        await finish.promise
        reply.code(200).type('text/plain; charset=utf-8').send('done')
        return reply
      }, { deadline: { timeoutMs: 100 } })
      expect((await post(port, 'late-2')).status).toBe(504)
      finish.resolve()
      const after = await retryUntilAnswered(port, 'late-2')
      expect(after.status).toBe(200)
      expect(after.headers.get('content-type')).toBe('text/plain; charset=utf-8')
      expect(await after.text()).toBe('done')
      expect(runs).toBe(1)
    })

    // Both return before answering: the handler's promise says nothing of the answer to come.
    const answeringLater = {
      'a callback handler': (finish: Promise<void>, charge: () => number): Handler => (_request, reply) => {
        finish.then(() => reply.code(201).send({ charge: charge() }), () => undefined)
      },
      'an async handler that returns the reply': (finish: Promise<void>, charge: () => number): Handler => async (_request, reply) => {
        finish.then(() => reply.code(201).send({ charge: charge() }), () => undefined)
        return reply
      },
    }
    for (const [style, handlerOf] of Object.entries(answeringLater)) {
      it(`${style} that sends after the 504 has its answer stored: the retry replays it, the handler ran once`, async () => {
        const finish = deferred()
        let runs = 0
        const key = `late-${style.replaceAll(' ', '-')}`
        const { port } = await startApp(options(), (request, reply) => {
          runs++
          return handlerOf(finish.promise, () => runs)(request, reply)
        }, { deadline: { timeoutMs: 100 } })
        expect((await post(port, key)).status).toBe(504)
        expect((await post(port, key)).status).toBe(409)
        finish.resolve()
        const after = await retryUntilAnswered(port, key)
        expect(after.status).toBe(201)
        expect(after.headers.get('idempotent-replayed')).toBe('true')
        expect(await after.json()).toEqual({ charge: 1 })
        expect(runs).toBe(1)
      })
    }

    it('an answer without a body that the handler sends after the 504 is replayed without a body or a type', async () => {
      const finish = deferred()
      let runs = 0
      const { port } = await startApp(options(), async (_request, reply) => {
        runs++
        await finish.promise
        reply.code(201).header('location', '/orders/4').send()
        return reply
      }, { deadline: { timeoutMs: 100 } })
      expect((await post(port, 'late-4')).status).toBe(504)
      finish.resolve()
      const after = await retryUntilAnswered(port, 'late-4')
      expect(after.status).toBe(201)
      expect(after.headers.get('location')).toBe('/orders/4')
      expect(after.headers.get('content-type')).toBeNull()
      expect(await after.text()).toBe('')
      expect(runs).toBe(1)
    })

    it('a handler that fails after the 504 releases the key: nothing was done, the retry runs it', async () => {
      let runs = 0
      const { port } = await startApp(options(), async (request) => {
        runs++
        if (runs === 1) {
          await new Promise((resolve) => { request.deadline.signal.addEventListener('abort', resolve) })
          throw new Error('aborted by the deadline')
        }
        return { order: runs }
      }, { deadline: { timeoutMs: 100 } })
      expect((await post(port, 'late-3')).status).toBe(504)
      const after = await retryUntilAnswered(port, 'late-3')
      expect(after.status).toBe(200)
      expect(await after.json()).toEqual({ order: 2 })
      expect(runs).toBe(2)
    })
  })

  describe(`the Stripe SDK retrying on its own timeout (${storeName} store)`, () => {
    it('creates one customer, and the SDK gets that customer', async () => {
      let runs = 0
      const keys = new Set<string>()
      const app = Fastify()
      apps.push(app)
      // Stripe's API takes form bodies.
      app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)))
      })
      await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, store: makeStore() } })
      app.post('/v1/customers', { config: { idempotency: {} } }, async (request) => {
        runs++
        keys.add(String(request.headers['idempotency-key']))
        // Outlasts the SDK's 300 ms timeout: wait for its connection to
        // close, then a little more, so that a retry can arrive meanwhile.
        await new Promise((resolve) => { request.raw.socket.once('close', resolve) })
        await new Promise((resolve) => setTimeout(resolve, 300))
        return { id: `cus_${runs}`, object: 'customer', email: (request.body as { email: string }).email }
      })
      const port = await listen(app)
      const stripe = new Stripe('sk_test_not_a_secret', {
        host: '127.0.0.1', port, protocol: 'http', timeout: 300, maxNetworkRetries: 6,
      })
      const customer = await stripe.customers.create({ email: 'ada@example.com' })
      expect(customer.id).toBe('cus_1')
      expect(customer.email).toBe('ada@example.com')
      expect(runs).toBe(1)
      expect(keys.size).toBe(1)
      expect([...keys][0]).toMatch(/^stripe-node-retry-/)
    })

    it('a retry that finds the key in use is told to come back in a second, and the SDK then gets the one customer', async () => {
      let runs = 0
      const conflicts: Array<string | undefined> = []
      let conflictSent: () => void = () => {}
      const conflicted = new Promise<void>((resolve) => { conflictSent = resolve })
      const app = Fastify()
      apps.push(app)
      app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)))
      })
      await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, store: makeStore() } })
      app.addHook('onSend', async (_request, reply, payload) => {
        if (reply.statusCode === 409) {
          conflicts.push(reply.getHeader('retry-after') as string | undefined)
          conflictSent()
        }
        return payload
      })
      app.post('/v1/customers', { config: { idempotency: {} } }, async () => {
        runs++
        // Runs until a retry has met the key in use.
        await conflicted
        return { id: `cus_${runs}`, object: 'customer' }
      })
      const port = await listen(app)
      const stripe = new Stripe('sk_test_not_a_secret', {
        host: '127.0.0.1', port, protocol: 'http', timeout: 300, maxNetworkRetries: 6,
      })
      const customer = await stripe.customers.create({ email: 'ada@example.com' })
      expect(customer.id).toBe('cus_1')
      expect(runs).toBe(1)
      // The default lease is 10 s: a Retry-After of the lease's end would hold the SDK that long.
      expect(conflicts.length).toBeGreaterThan(0)
      expect(new Set(conflicts)).toEqual(new Set(['1']))
    })
  })
}
