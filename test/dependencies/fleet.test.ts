import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import type { ServerResponse } from 'node:http'
import { Redis } from 'ioredis'
import { request as undiciRequest } from 'undici'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { monotonicClock } from '../../src/clock.js'
import { Breaker } from '../../src/dependencies/index.js'
import { RedisBreakerFleet } from '../../src/dependencies/fleet.js'
import resilience from '../../plugins/index.js'
import { listen } from '../helpers/listen.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait-for.js'
import { dependencyApp, failing, startDependency } from './helpers.js'
import type { DependencyServer } from './helpers.js'
import type { TestApp } from '../helpers/app.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function instance (redisUrl: string, prefix: string, server: DependencyServer, openMs: number, syncMs = 50): Promise<TestApp> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => 100 })
  client.on('error', () => {})
  const testApp = await dependencyApp({
    dependencies: { payments: { baseUrl: server.url, breaker: { consecutiveFailures: 2, openMs }, fleet: { client, prefix, syncMs } } },
  })
  testApp.app.get('/pay', async (request) => await (await request.dependency('payments').fetch('/charges')).json())
  await testApp.app.ready()
  cleanups.push(async () => {
    await testApp.app.close()
    client.disconnect()
  })
  return testApp
}

const stateOf = (testApp: TestApp): string | undefined => testApp.app.dependencies.stats().payments?.state

describe('fleet-wide breaker state through Redis', () => {
  it('a breaker opened on one instance is seen open by the others; one probe for the fleet; its success closes them all', async () => {
    const held: ServerResponse[] = []
    const server = await startDependency(failing(500))
    cleanups.push(server.close)
    const prefix = `deps-${randomUUID()}:`
    // The open period is the fleet key's life: 4 s gives the others four
    // syncs to read it, where 1.5 s could pass between two on a busy machine.
    const openMs = 4000
    // The probe lease lasts max(4 × syncMs, 1 s): 4 s here, far longer than
    // the traffic below takes on a busy machine. Past it, a probe still held
    // lets another instance probe, as a dead prober must.
    const [a, b, c] = await Promise.all([0, 1, 2].map(async () => await instance(inject('redisUrl'), prefix, server, openMs, 1000))) as [TestApp, TestApp, TestApp]
    await a.app.inject('/pay')
    await a.app.inject('/pay')
    expect(stateOf(a)).toBe('open')
    await waitFor(() => stateOf(b) === 'open' && stateOf(c) === 'open')
    const refused = await b.app.inject('/pay')
    expect(refused.statusCode).toBe(503)
    expect(refused.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-unavailable', dependency: 'payments' })
    expect(server.seen).toHaveLength(2)
    expect(b.logs.some((line) => line.msg === 'dependency breaker opened' && line.fromFleet === true)).toBe(true)

    // The provider is back but slow to answer: the probe is held while every instance keeps getting traffic.
    server.behave((_request, response) => { held.push(response) })
    const pending: Array<Promise<unknown>> = []
    await waitFor(() => {
      for (const app of [a, b, c]) pending.push(app.app.inject('/pay'))
      return server.seen.length > 2
    }, openMs + 5000)
    for (let i = 0; i < 20; i++) {
      for (const app of [a, b, c]) pending.push(app.app.inject('/pay'))
      await new Promise((resolve) => setTimeout(resolve, 15))
    }
    expect(server.seen).toHaveLength(3)
    // The provider answers again, the held probe first. An instance that
    // has not yet read the fleet's close when its own open period ends
    // may probe once more before it does (its sync comes every second):
    // that probe is answered too, not held until its deadline.
    server.behave((_request, response) => { response.writeHead(200, { 'content-type': 'application/json' }).end('{"paid":true}') })
    for (const response of held.splice(0)) response.writeHead(200, { 'content-type': 'application/json' }).end('{"paid":true}')
    await waitFor(() => [a, b, c].every((app) => stateOf(app) === 'closed'))
    await Promise.all(pending)
    for (const app of [a, b, c]) expect((await app.app.inject('/pay')).json()).toEqual({ paid: true })
  })

  it('after Redis was frozen, an open written as it froze and applied as it thaws does not reopen breakers that closed meanwhile', async () => {
    const redis = await startRedisServer()
    cleanups.push(redis.stop)
    const server = await startDependency(failing(500))
    cleanups.push(server.close)
    const prefix = `deps-${randomUUID()}:`
    const openMs = 1000
    const [a, b] = await Promise.all([0, 1].map(async () => await instance(redis.url, prefix, server, openMs))) as [TestApp, TestApp]
    redis.freeze(true)
    // A opens: its write waits in the connection while Redis is frozen.
    await a.app.inject('/pay')
    await a.app.inject('/pay')
    expect(stateOf(a)).toBe('open')
    await waitFor(() => [a, b].every((app) => app.logs.some((line) => line.msg === 'dependency fleet state unreachable; the breaker works locally')))
    server.behave((_request, response) => { response.writeHead(200, { 'content-type': 'application/json' }).end('{"paid":true}') })
    await waitFor(() => stateOf(a) === 'open' && (a.app.dependencies.stats().payments?.openRemainingMs ?? 1) === 0, openMs + 5000)
    expect((await a.app.inject('/pay')).json()).toEqual({ paid: true })
    expect(stateOf(a)).toBe('closed')
    redis.freeze(false)
    // The stale open (an open period of openMs from now, in Redis's eyes) lands; neither instance follows it.
    const states = new Set<string | undefined>()
    await waitFor(() => {
      states.add(stateOf(a))
      states.add(stateOf(b))
      return [a, b].every((app) => app.logs.some((line) => line.msg === 'dependency fleet state reachable again; the breaker follows the fleet'))
    }, 5000)
    for (let i = 0; i < 20; i++) {
      states.add(stateOf(a))
      states.add(stateOf(b))
      await new Promise((resolve) => setTimeout(resolve, 15))
    }
    expect([...states]).toEqual(['closed'])
    expect((await b.app.inject('/pay')).json()).toEqual({ paid: true })
  })

  it('a breaker that opened before its Redis client had connected is shared once the client connects', async () => {
    const prefix = `deps-${randomUUID()}:`
    const fleetMember = (client: Redis): { breaker: Breaker, fleet: RedisBreakerFleet } => {
      const breaker = new Breaker({ trip: { kind: 'consecutive', failures: 2 }, windowMs: 10_000, openMs: 60_000, maxOpenMs: 60_000, probes: 1 }, monotonicClock)
      const fleet = new RedisBreakerFleet({ client, prefix, syncMs: 50, name: 'payments', breaker, log: { warn: () => {}, info: () => {} } })
      return { breaker, fleet }
    }
    // lazyConnect: the client connects on its first command, so the breaker opens while it is certainly not connected.
    const lazy = new Redis(inject('redisUrl'), { lazyConnect: true })
    const other = new Redis(inject('redisUrl'))
    cleanups.push(async () => { lazy.disconnect(); other.disconnect() })
    const a = fleetMember(lazy)
    const b = fleetMember(other)
    for (let i = 0; i < 2; i++) a.breaker.record(a.breaker.admit(), 'failure')
    expect(a.breaker.name).toBe('open')
    expect(lazy.status).toBe('wait')
    await waitFor(() => {
      a.fleet.sync().catch(() => {})
      b.fleet.sync().catch(() => {})
      return b.breaker.name === 'open'
    })
    expect(b.breaker.state).toMatchObject({ kind: 'open', external: true })
    expect(b.breaker.openRemainingMs()).toBeGreaterThan(50_000)
  })

  it('two apps made as users make them (Fastify(), the umbrella with defaults, lazyConnect clients): a breaker opened just after start is shared over real sockets', async () => {
    const server = await startDependency(failing(500))
    cleanups.push(server.close)
    const prefix = `deps-${randomUUID()}:`
    // lazyConnect: a client connects on its first command, its fleet's first
    // read (a second after start on the first app, so its breaker opens first).
    const userApp = async (syncMs: number): Promise<{ app: FastifyInstance, port: number }> => {
      const client = new Redis(inject('redisUrl'), { lazyConnect: true })
      const app = Fastify()
      await app.register(resilience, { dependencies: { payments: { baseUrl: server.url, breaker: { consecutiveFailures: 2, openMs: 60_000 }, fleet: { client, prefix, syncMs } } } })
      app.get('/pay', async (request) => await (await request.dependency('payments').fetch('/charges')).json())
      const port = await listen(app)
      cleanups.push(async () => {
        await app.close()
        client.disconnect()
      })
      return { app, port }
    }
    const [a, b] = await Promise.all([userApp(1000), userApp(50)])
    const pay = async (port: number): Promise<{ status: number, body: Record<string, unknown> }> => {
      const response = await undiciRequest(`http://127.0.0.1:${port}/pay`)
      return { status: response.statusCode, body: await response.body.json() as Record<string, unknown> }
    }
    expect((await pay(a.port)).status).toBe(502)
    expect((await pay(a.port)).status).toBe(502)
    expect(a.app.dependencies.stats().payments?.state).toBe('open')
    await waitFor(() => b.app.dependencies.stats().payments?.state === 'open')
    const refused = await pay(b.port)
    expect(refused.status).toBe(503)
    expect(refused.body).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-unavailable', dependency: 'payments' })
    expect(server.seen).toHaveLength(2)
  })

  it('with Redis unreachable every instance keeps its local breaker, and says so once', async () => {
    const redis = await startRedisServer()
    let stopped = false
    cleanups.push(async () => { if (!stopped) await redis.stop() })
    const server = await startDependency(failing(500))
    cleanups.push(server.close)
    const testApp = await instance(redis.url, `deps-${randomUUID()}:`, server, 300)
    await redis.stop()
    stopped = true
    await waitFor(() => testApp.logs.some((line) => line.msg === 'dependency fleet state unreachable; the breaker works locally'))
    await testApp.app.inject('/pay')
    await testApp.app.inject('/pay')
    expect(stateOf(testApp)).toBe('open')
    expect((await testApp.app.inject('/pay')).statusCode).toBe(503)
    server.behave((_request, response) => { response.writeHead(200, { 'content-type': 'application/json' }).end('{"paid":true}') })
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect((await testApp.app.inject('/pay')).json()).toEqual({ paid: true })
    expect(stateOf(testApp)).toBe('closed')
    // Many failed syncs later, still one line.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(testApp.logs.filter((line) => line.msg === 'dependency fleet state unreachable; the breaker works locally')).toHaveLength(1)
  })
})
