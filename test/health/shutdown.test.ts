import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { Redis } from 'ioredis'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest'
import resilience, { RedisErrorBudgetFleet, RedisIdempotencyStore } from '../../plugins/index.js'
import type { ResilienceOptions } from '../../plugins/index.js'
import { startChildApp } from '../helpers/child-app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait-for.js'

/*
 * Graceful shutdown over real sockets: readiness fails at once, requests
 * are served during the grace period, refused with 503 and
 * `Connection: close` after it, requests in flight finish, and the whole
 * is bounded by the shutdown timeout.
 */

const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
afterAll(async () => { await redis.quit() })

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map(async (app) => { await app.close() }))
})

// return503OnClosing: false lets the library answer during close (see docs/operations.md).
async function startApp (options: ResilienceOptions, setup: (app: FastifyInstance) => void, server: FastifyServerOptions = { return503OnClosing: false }): Promise<{ app: FastifyInstance, url: string }> {
  const app = Fastify(server)
  apps.push(app)
  await app.register(resilience, { loadShedding: false, ...options })
  setup(app)
  const port = await listen(app)
  return { app, url: `http://127.0.0.1:${port}` }
}

/** A fresh connection per request, so that a closed keep-alive connection cannot blur what a test sees. */
async function get (url: string): Promise<Response> {
  return await fetch(url, { headers: { connection: 'close' } })
}

describe('graceful shutdown', () => {
  it('fails readiness at once, serves during the grace, refuses after it and lets requests in flight finish', async () => {
    const release = deferred()
    const started = deferred()
    const { app, url } = await startApp({ health: { shutdown: { graceMs: 400, timeoutMs: 20_000 } } }, (app) => {
      app.get('/slow', async () => {
        started.resolve()
        await release.promise
        return { done: true }
      })
      app.get('/fast', async () => ({ fast: true }))
    })
    expect((await get(`${url}/health/ready`)).status).toBe(200)
    const inFlight = get(`${url}/slow`)
    await started.promise
    const closed = app.close()

    const ready = await get(`${url}/health/ready`)
    expect(ready.status).toBe(503)
    expect(ready.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(await ready.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:not-ready', status: 503 })
    expect(app.health.phase).toBe('draining')
    const duringGrace = await fetch(`${url}/fast`)
    expect(duringGrace.status).toBe(200)
    expect(duringGrace.headers.get('connection')).toBe('close')

    await waitFor(() => app.health.phase === 'closing')
    const afterGrace = await fetch(`${url}/fast`)
    expect(afterGrace.status).toBe(503)
    expect(afterGrace.headers.get('connection')).toBe('close')
    expect(await afterGrace.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:shutting-down', status: 503 })

    release.resolve()
    const slow = await inFlight
    expect(slow.status).toBe(200)
    expect(await slow.json()).toEqual({ done: true })
    await closed
    expect(app.health.phase).toBe('closed')
  })

  it('with Fastify\'s own return503OnClosing, Fastify refuses new requests with 503 and Connection: close while requests in flight finish', async () => {
    const release = deferred()
    const started = deferred()
    const { app, url } = await startApp({ health: { shutdown: { graceMs: 200, timeoutMs: 20_000 } } }, (app) => {
      app.get('/slow', async () => {
        started.resolve()
        await release.promise
        return { done: true }
      })
    }, {})
    const inFlight = get(`${url}/slow`)
    await started.promise
    const closed = app.close()
    const ready = await get(`${url}/health/ready`)
    expect(ready.status).toBe(503)
    expect(ready.headers.get('connection')).toBe('close')
    release.resolve()
    expect((await inFlight).status).toBe(200)
    await closed
  })

  it('error budgets count a refusal during shutdown as shed, timed from its arrival', async () => {
    const release = deferred()
    const started = deferred()
    const { app, url } = await startApp({
      errorBudget: { objectives: [{ name: 'api', availability: 0.99, latency: { thresholdMs: 1000, target: 0.99 } }], defaultObjective: 'api' },
      health: { shutdown: { graceMs: 0, timeoutMs: 20_000 } },
    }, (app) => {
      app.get('/slow', async () => {
        started.resolve()
        await release.promise
        return {}
      })
      app.get('/fast', async () => ({}))
    })
    const inFlight = get(`${url}/slow`)
    await started.promise
    const closed = app.close()
    await waitFor(() => app.health.phase === 'closing')
    expect((await get(`${url}/fast`)).status).toBe(503)
    const metrics = await app.errorBudget.registry?.metrics() ?? ''
    expect(metrics).toMatch(/slo_bad_events_total\{[^}]*route="GET \/fast"[^}]*reason="shed"[^}]*\} 1/)
    const sum = /slo_request_duration_seconds_sum\{[^}]*route="GET \/fast"[^}]*\} ([\d.e-]+)/.exec(metrics)?.[1]
    // Timed from its arrival, not from the process start.
    expect(Number(sum)).toBeLessThan(1)
    release.resolve()
    await inFlight
    await closed
  })

  it('a hung handler is cut off at the shutdown timeout', async () => {
    const started = deferred()
    const { app, url } = await startApp({ health: { shutdown: { graceMs: 50, timeoutMs: 600 } } }, (app) => {
      app.get('/hang', async () => {
        started.resolve()
        await new Promise(() => {})
      })
    })
    const hung = get(`${url}/hang`).then(() => 'answered', (error: unknown) => error)
    await started.promise
    const startedAt = Date.now()
    await app.close()
    // Bounded by the timeout; the generous margin is for a busy machine.
    expect(Date.now() - startedAt).toBeLessThan(10_000)
    expect(await hung).toBeInstanceOf(Error)
  })

  it('keeps the idempotency key of a handler still running when the shutdown cuts its connection: a retry on another instance waits for its answer instead of running the write twice', async () => {
    const started = deferred()
    const finish = deferred()
    const prefix = `test:health:running:${Date.now()}:`
    let runs = 0
    const charges = (app: FastifyInstance): void => {
      app.post('/charges', { config: { idempotency: { required: true } } }, async () => {
        runs++
        started.resolve()
        await finish.promise
        return { charge: runs }
      })
    }
    const options = (): ResilienceOptions => ({ idempotency: { store: new RedisIdempotencyStore({ client: redis, prefix }), unscoped: true, leaseMs: 60_000 }, health: { shutdown: { graceMs: 50, timeoutMs: 600 } } })
    const first = await startApp(options(), charges)
    const other = await startApp(options(), charges)
    const charge = async (url: string): Promise<Response> => await fetch(`${url}/charges`, { method: 'POST', headers: { 'idempotency-key': 'k-1', 'content-type': 'application/json', connection: 'close' }, body: '{}' })
    const cut = charge(first.url).catch((error: unknown) => error)
    await started.promise
    await first.app.close()
    expect(await cut).toBeInstanceOf(Error)
    // The handler runs on in the closed instance: the retry finds its key held.
    const meanwhile = await charge(other.url)
    expect(meanwhile.status).toBe(409)
    finish.resolve()
    // Its answer is stored as it ends; until then the retry still meets the held key.
    let replay = await charge(other.url)
    while (replay.status === 409) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      replay = await charge(other.url)
    }
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(await replay.json()).toEqual({ charge: 1 })
    expect(runs).toBe(1)
  })

  it('releases the idempotency key of a request the shutdown cut off before its handler started', async () => {
    const waiting = deferred()
    const prefix = `test:health:cut:${Date.now()}:`
    const store = new RedisIdempotencyStore({ client: redis, prefix })
    let runs = 0
    const { app, url } = await startApp({ idempotency: { store, unscoped: true, leaseMs: 60_000 }, health: { shutdown: { graceMs: 50, timeoutMs: 600 } } }, (app) => {
      // A hook of the application's that runs after the key is claimed, and never ends.
      app.addHook('onRoute', (route) => {
        route.preHandler = [...[route.preHandler ?? []].flat(), async () => { waiting.resolve(); await new Promise(() => {}) }]
      })
      app.post('/charges', { config: { idempotency: { required: true } } }, async () => { runs++; return {} })
    })
    const cut = fetch(`${url}/charges`, { method: 'POST', headers: { 'idempotency-key': 'k-1', 'content-type': 'application/json' }, body: '{}' }).catch((error: unknown) => error)
    await waiting.promise
    expect(await redis.keys(`${prefix}*`)).not.toEqual([])
    await app.close()
    await cut
    // Nothing left under the prefix (its release may still be on its way): the key is free for the client's retry, not held for the 60 s lease.
    for (let waited = 0; waited < 10_000 && (await redis.keys(`${prefix}*`)).length > 0; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(await redis.keys(`${prefix}*`)).toEqual([])
    expect(runs).toBe(0)
  })

  it('with Redis down, shutdown is still bounded and the app closes', async () => {
    const server = await startRedisServer()
    const client = new Redis(server.url)
    client.on('error', () => {})
    try {
      await waitFor(() => client.status === 'ready')
      const started = deferred()
      const { app, url } = await startApp({
        idempotency: { store: new RedisIdempotencyStore({ client, prefix: 'down:' }), unscoped: true, storeTimeoutMs: 300 },
        errorBudget: { fleet: new RedisErrorBudgetFleet({ client, prefix: 'down:slo:' }), objectives: [{ name: 'all', availability: 0.99 }], defaultObjective: 'all' },
        health: { shutdown: { graceMs: 50, timeoutMs: 800 } },
      }, (app) => {
        app.get('/ok', async () => ({ ok: true }))
        app.post('/charges', { config: { idempotency: { required: true } } }, async () => {
          started.resolve()
          await new Promise(() => {})
        })
      })
      // Counts for the fleet to flush on close, while Redis is down.
      expect((await get(`${url}/ok`)).status).toBe(200)
      const cut = fetch(`${url}/charges`, { method: 'POST', headers: { 'idempotency-key': 'k-2', 'content-type': 'application/json' }, body: '{}' }).catch((error: unknown) => error)
      await started.promise
      await server.stop()
      await waitFor(() => client.status !== 'ready')
      const startedAt = Date.now()
      await app.close()
      expect(Date.now() - startedAt).toBeLessThan(15_000)
      await cut
    } finally {
      client.disconnect()
      await server.stop()
    }
  })
})

/*
 * Fastify fails close() when a preClose hook outlasts its pluginTimeout; the
 * drain must not. A small pluginTimeout and a larger shutdown timeout stand
 * for the defaults (10 s and 30 s) with a request running past 10 s.
 */
describe('graceful shutdown past Fastify\'s pluginTimeout', () => {
  it('close() resolves, and the request in flight is answered, while it runs past pluginTimeout', async () => {
    const release = deferred()
    const started = deferred()
    const { app, url } = await startApp({ health: { shutdown: { graceMs: 0, timeoutMs: 20_000 } } }, (app) => {
      app.get('/slow', async () => {
        started.resolve()
        await release.promise
        return { done: true }
      })
    }, { return503OnClosing: false, pluginTimeout: 300 })
    const inFlight = get(`${url}/slow`)
    await started.promise
    const closed = app.close()
    const outcome = closed.then(() => 'resolved', (error: unknown) => error)
    // The server stops listening once the preClose hook is over, which is at pluginTimeout at the latest.
    await waitFor(() => !app.server.listening)
    release.resolve()
    const slow = await inFlight
    expect(slow.status).toBe(200)
    expect(await slow.json()).toEqual({ done: true })
    expect(await outcome).toBe('resolved')
    expect(app.health.phase).toBe('closed')
  })

  it('through inject, close() resolves after the request in flight is answered', async () => {
    const release = deferred()
    const started = deferred()
    const preCloseOver = deferred()
    const app = Fastify({ pluginTimeout: 300 })
    apps.push(app)
    await app.register(resilience, { loadShedding: false, health: { shutdown: { graceMs: 0, timeoutMs: 20_000 } } })
    app.get('/slow', async () => {
      started.resolve()
      await release.promise
      return { done: true }
    })
    // Registered after the library's, so it runs before its onClose hook: the preClose hooks are over.
    app.addHook('onClose', async () => { preCloseOver.resolve() })
    await app.ready()
    const events: string[] = []
    const inFlight = app.inject('/slow').then((response) => { events.push('answered'); return response })
    await started.promise
    const outcome = app.close().then(() => { events.push('closed') }, (error: unknown) => error)
    await preCloseOver.promise
    release.resolve()
    const slow = await inFlight
    expect(slow.statusCode).toBe(200)
    expect(slow.json()).toEqual({ done: true })
    expect(await outcome).toBeUndefined()
    expect(events).toEqual(['answered', 'closed'])
  })

  /** Starts GET /held on a fixture app and resolves once the app counts it in flight, with the promise of its answer (or the error). */
  async function heldInFlight (url: string): Promise<{ answer: Promise<unknown> }> {
    const held = get(`${url}/held`).then(async (response) => ({ status: response.status, body: await response.json() as unknown }), (error: unknown) => error)
    for (let count = 0; count === 0;) {
      const response = await get(`${url}/held/count`)
      count = (await response.json() as { held: number }).held
    }
    // Wrapped: an async function returning the promise itself would wait for it.
    return { answer: held }
  }

  it('on SIGTERM, the process answers the request in flight and exits with 0', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/health-app.ts', import.meta.url))
    // The held request answers 1.5 s after SIGTERM, well past the 300 ms pluginTimeout.
    const child = await startChildApp({ GRACE_MS: '0', TIMEOUT_MS: '20000', HOLD_MS: '1500', PLUGIN_TIMEOUT_MS: '300' }, fixture)
    try {
      const url = `http://127.0.0.1:${child.port}`
      const held = (await heldInFlight(url)).answer
      await child.kill('SIGTERM')
      expect(await held).toEqual({ status: 200, body: { held: true } })
      expect(child.child.exitCode).toBe(0)
    } finally {
      await child.kill('SIGKILL')
    }
  })

  it('on SIGTERM, two apps of one process close together: the one that closes first does not exit the process while the other still answers', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/two-apps.ts', import.meta.url))
    const child = await startChildApp({ HOLD_MS: '1000' }, fixture)
    try {
      const output: string[] = []
      child.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk))
      const [publicPort, adminPort] = child.started.split(' ').map(Number)
      expect((await get(`http://127.0.0.1:${adminPort}/ping`)).status).toBe(200)
      const url = `http://127.0.0.1:${publicPort}`
      const held = (await heldInFlight(url)).answer
      await child.kill('SIGTERM')
      expect(await held).toEqual({ status: 200, body: { held: true } })
      expect(child.child.exitCode).toBe(0)
      expect(output.join('').split('\n').filter(Boolean).sort()).toEqual(['closed admin', 'closed public'])
    } finally {
      await child.kill('SIGKILL')
    }
  })

  it('on SIGTERM, a close that never finishes exits with 1 at its bound, even when nothing else keeps the process alive', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/health-app.ts', import.meta.url))
    const child = await startChildApp({ GRACE_MS: '0', TIMEOUT_MS: '100', STUCK_CLOSE: '1' }, fixture)
    try {
      const exited = once(child.child, 'exit')
      child.child.kill('SIGTERM')
      await exited
      expect(child.child.exitCode).toBe(1)
    } finally {
      await child.kill('SIGKILL')
    }
  })
})
