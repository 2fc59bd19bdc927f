import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import resilience, { RedisIdempotencyStore } from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import { startCuttingProxy } from '../helpers/cutting-proxy.js'
import type { TestApp } from '../helpers/app.js'
import { startRedisServer, stopUnder } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait-for.js'
import { deferred } from '../helpers/deferred.js'
import type { RedisServerHandle } from '../helpers/redis-server.js'

async function appWith (client: Redis, onStoreError: 'fail-closed' | 'fail-open'): Promise<TestApp & { runs: ReturnType<typeof vi.fn> }> {
  const testApp = createTestApp()
  const runs = vi.fn()
  await testApp.app.register(resilience, {
    loadShedding: false,
    idempotency: { store: new RedisIdempotencyStore({ client }), unscoped: true, storeTimeoutMs: 300, onStoreError },
  })
  testApp.app.post('/pay', { config: { idempotency: {} } }, async () => { runs(); return { paid: true } })
  return { ...testApp, runs }
}

function pay (app: TestApp['app'], key: string) {
  return app.inject({ method: 'POST', url: '/pay', headers: { 'idempotency-key': key }, payload: { amount: 1 } })
}

describe('idempotency with Redis unreachable', () => {
  let server: RedisServerHandle
  let client: Redis
  beforeAll(async () => {
    server = await startRedisServer()
    // ioredis defaults on purpose: retries and an offline queue. The store's
    // own timeout must still bound the request.
    client = new Redis(server.url)
    client.on('error', () => {})
    await client.ping()
    await stopUnder(server, client)
  })
  afterAll(() => { client.disconnect() })

  it('fail-closed answers 503 with Retry-After within the store timeout, without running the handler', async () => {
    const { app, runs, logs } = await appWith(client, 'fail-closed')
    await app.ready()
    expect(logs.some((line) => line.level === LOG_LEVEL.warn && line.msg.includes('idempotency store not ready at startup'))).toBe(true)
    const startedAt = performance.now()
    const res = await pay(app, 'down-1')
    const elapsedMs = performance.now() - startedAt
    expect(res.statusCode).toBe(503)
    expect(res.json().type).toBe('urn:fastify-resilience:problem:idempotency-store-unavailable')
    expect(res.headers['retry-after']).toBe('1')
    expect(runs).not.toHaveBeenCalled()
    // Bounded by storeTimeoutMs (300 ms), not by ioredis' retries; generous margin for a busy machine.
    expect(elapsedMs).toBeLessThan(2000)
    expect(logs.some((line) => line.level === LOG_LEVEL.warn && line.msg.includes('fail-closed'))).toBe(true)
    await app.close()
  })

  it('fail-open runs the handler without the key and says so in the log', async () => {
    const { app, runs, logs } = await appWith(client, 'fail-open')
    const res = await pay(app, 'down-2')
    expect(res.statusCode).toBe(200)
    expect(runs).toHaveBeenCalledTimes(1)
    expect(logs.some((line) => line.level === LOG_LEVEL.warn && line.msg.includes('fail-open'))).toBe(true)
    await app.close()
  })
})

/**
 * A redis-server of its own for the describe block that calls this, with
 * a client for the store and one for the test's own commands; filled in
 * before the block's tests run.
 */
function ownRedis (): { client: Redis, admin: Redis } {
  const redis = {} as { client: Redis, admin: Redis }
  let server: RedisServerHandle | undefined
  beforeAll(async () => {
    server = await startRedisServer()
    redis.client = new Redis(server.url)
    redis.admin = new Redis(server.url)
  })
  afterAll(async () => {
    redis.client.disconnect()
    redis.admin.disconnect()
    await server?.stop()
  })
  return redis
}

describe('Redis round trips', () => {
  const redis = ownRedis()

  /** Commands the client sent: the commands that scripts run inside Redis are counted under their own names. */
  async function scriptCalls (): Promise<number> {
    const info = await redis.admin.info('commandstats')
    let calls = 0
    for (const match of info.matchAll(/cmdstat_(evalsha|eval):calls=(\d+)/g)) calls += Number(match[2])
    return calls
  }

  it('a first-time request costs at most two round trips: claim and store', async () => {
    const { app } = await appWith(redis.client, 'fail-closed')
    await pay(app, 'warm-up')
    await redis.admin.config('RESETSTAT')
    const res = await pay(app, 'first-time')
    expect(res.statusCode).toBe(200)
    expect(await scriptCalls()).toBe(2)
    await app.close()
  })
})

describe('a claim that Redis carries out after its timeout', () => {
  const redis = ownRedis()

  it('is released once it lands, so the retry runs at once instead of meeting a key in use until the lease runs out', async () => {
    const { app, runs, logs } = await appWith(redis.client, 'fail-closed')
    await app.ready()
    // Redis holds every write (the claim script among them) for 1 s: past the store's 300 ms timeout.
    await redis.admin.call('CLIENT', 'PAUSE', '1000', 'WRITE')
    const refused = await pay(app, 'late-claim')
    expect(refused.statusCode).toBe(503)
    expect(refused.json().type).toBe('urn:fastify-resilience:problem:idempotency-store-unavailable')
    await waitFor(() => logs.some((line) => line.msg === 'idempotency claim that came back after its timeout released'))
    const retried = await pay(app, 'late-claim')
    expect(retried.statusCode).toBe(200)
    expect(runs).toHaveBeenCalledTimes(1)
    await app.close()
  })
})

describe('an answer that Redis stores after its store call timed out', () => {
  const redis = ownRedis()

  it('is logged as not confirmed, then as stored after all, never as an error, and the retry replays it', async () => {
    const testApp = createTestApp()
    const runs = vi.fn()
    await testApp.app.register(resilience, { loadShedding: false, idempotency: { store: new RedisIdempotencyStore({ client: redis.client }), unscoped: true, storeTimeoutMs: 300 } })
    testApp.app.post('/pay', { config: { idempotency: {} } }, async () => {
      runs()
      // Redis holds every write, the answer's among them, past the store's 300 ms timeout.
      await redis.admin.call('CLIENT', 'PAUSE', '2000', 'WRITE')
      return { paid: true }
    })
    const { app, logs } = testApp
    expect((await pay(app, 'late-answer')).statusCode).toBe(200)
    await waitFor(() => logs.some((line) => line.msg === 'idempotent response stored after all, after its store call timed out'))
    expect(logs.some((line) => line.level === LOG_LEVEL.warn && line.msg.startsWith('idempotent response not confirmed stored'))).toBe(true)
    expect(logs.filter((line) => line.level >= LOG_LEVEL.error)).toEqual([])
    const retried = await pay(app, 'late-answer')
    expect(retried.headers['idempotent-replayed']).toBe('true')
    expect(runs).toHaveBeenCalledTimes(1)
    await app.close()
  })
})

describe('an answer Redis stored, whose reply was lost', () => {
  it('is not reported as a lost lease when ioredis sends the store call again after reconnecting, and the retry replays it', async () => {
    const proxy = await startCuttingProxy(inject('redisUrl'))
    // ioredis' defaults: a command whose reply was lost is sent again once it reconnects.
    const client = new Redis(proxy.url)
    client.on('error', () => {})
    try {
      const testApp = createTestApp()
      const runs = vi.fn()
      let cut: Promise<void> | undefined
      await testApp.app.register(resilience, { loadShedding: false, idempotency: { store: new RedisIdempotencyStore({ client, prefix: `test:lost-reply:${Date.now()}:` }), unscoped: true } })
      testApp.app.post('/pay', { config: { idempotency: {} } }, async (request) => {
        runs()
        // The next command, the answer's store call, reaches Redis and its reply is lost.
        if (request.headers['idempotency-key'] === 'lost-reply') cut = proxy.cutNext('after-execution')
        return { paid: true }
      })
      const { app, logs } = testApp
      // Loads the scripts, so that the call cut is the one Redis runs, not a NOSCRIPT answer.
      expect((await pay(app, 'warm-up')).statusCode).toBe(200)
      expect((await pay(app, 'lost-reply')).statusCode).toBe(200)
      await cut
      expect(proxy.connections).toBeGreaterThan(1)
      expect(logs.filter((line) => line.level >= LOG_LEVEL.warn)).toEqual([])
      const retried = await pay(app, 'lost-reply')
      expect(retried.headers['idempotent-replayed']).toBe('true')
      expect(runs).toHaveBeenCalledTimes(2)
      await app.close()
    } finally {
      client.disconnect()
      await proxy.close()
    }
  })
})

describe('a claim that outlives the request\'s budget', () => {
  const redis = ownRedis()

  // The claim's timeout is the request's remaining budget, shorter here
  // than storeTimeoutMs; its timer and the deadline's go off at about the
  // same moment, and a busy loop runs them in either order. The deadline's
  // clock runs at half speed here, so that the claim's always goes first.
  it.each(['fail-open', 'fail-closed'] as const)('is answered by the deadline\'s 504 (%s), never by running the handler without its key, and the retry runs it once', async (onStoreError) => {
    const testApp = createTestApp()
    const runs = vi.fn()
    await testApp.app.register(resilience, {
      loadShedding: false,
      deadlines: { clock: { now: () => performance.now() / 2 } },
      idempotency: { store: new RedisIdempotencyStore({ client: redis.client }), unscoped: true, onStoreError },
    })
    testApp.app.post('/pay', { config: { idempotency: {}, deadline: { timeoutMs: 200 } } }, async () => { runs(); return { paid: true } })
    const { app, logs } = testApp
    await app.ready()
    // Redis holds every write, the claim script among them, past the request's budget.
    await redis.admin.call('CLIENT', 'PAUSE', '1500', 'WRITE')
    const cut = await pay(app, `outlived-${onStoreError}`)
    expect(cut.statusCode).toBe(504)
    expect(cut.json().type).toBe('urn:fastify-resilience:problem:deadline-exceeded')
    expect(runs).not.toHaveBeenCalled()
    expect(logs.some((line) => line.msg.startsWith('idempotency store unavailable'))).toBe(false)
    await waitFor(() => logs.some((line) => line.msg === 'idempotency claim that came back after its timeout released'))
    const retried = await pay(app, `outlived-${onStoreError}`)
    expect(retried.statusCode).toBe(200)
    expect(runs).toHaveBeenCalledTimes(1)
    await app.close()
  })
})

describe('a stored answer that Redis no longer holds as it was written', () => {
  const redis = ownRedis()

  // An operator's hand edit, or a tool that rewrote the hash: headers that
  // are not JSON, or a state the store does not know (taken for a claim in
  // flight, it answered 409 until the record expired).
  it.each([['headers', 'not json'], ['state', 'paused']])('is refused with a 503 problem and a log line naming the unreadable reply, not replayed and not run again (%s edited to %j)', async (field, value) => {
    await redis.client.flushall()
    const { app, runs, logs } = await appWith(redis.client, 'fail-closed')
    expect((await pay(app, 'edited')).statusCode).toBe(200)
    const [record] = await redis.client.keys('frs:idempotency:*')
    if (record === undefined) throw new Error('the answer was not stored')
    await redis.client.hset(record, field, value)
    const res = await pay(app, 'edited')
    expect(res.statusCode).toBe(503)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json().type).toBe('urn:fastify-resilience:problem:idempotency-store-unavailable')
    expect(runs).toHaveBeenCalledTimes(1)
    const line = logs.find((entry) => entry.level === LOG_LEVEL.warn && entry.msg.includes('fail-closed'))
    expect((line as { err?: { code?: string } } | undefined)?.err?.code).toBe('FRS_ERR_IDEMPOTENCY_STORE_REPLY')
    await app.close()
  })
})

/**
 * An app on its own redis-server whose POST /pay handler runs until the
 * test lets it finish, through a client as the idempotency docs advise:
 * no offline queue, so a call made while the connection is down fails at
 * once instead of waiting for it.
 */
async function appOnOwnRedis (leaseMs?: number) {
  const redis = { server: await startRedisServer() }
  const client = new Redis(redis.server.url, { enableOfflineQueue: false, retryStrategy: () => 50 })
  client.on('error', () => {})
  const testApp = createTestApp()
  const runs = vi.fn()
  const finish = deferred()
  await testApp.app.register(resilience, { loadShedding: false, idempotency: { store: new RedisIdempotencyStore({ client }), unscoped: true, ...(leaseMs === undefined ? {} : { leaseMs }) } })
  testApp.app.post('/pay', { config: { idempotency: {} } }, async () => {
    runs()
    await finish.promise
    return { paid: true }
  })
  await waitFor(() => client.status === 'ready')
  return {
    ...testApp,
    runs,
    redis,
    /** Pays with `key`; resolves once the handler runs, with the promise of the answer. */
    async running (key: string) {
      const answer = pay(testApp.app, key)
      await waitFor(() => runs.mock.calls.length === 1)
      return { answer }
    },
    /** Stops Redis, waits for the client to see it, and lets the handler finish. */
    async stopRedisThenFinish () {
      await redis.server.stop()
      await waitFor(() => client.status !== 'ready')
      finish.resolve()
    },
    async close () {
      await testApp.app.close()
      client.disconnect()
      await redis.server.stop()
    },
  }
}

describe('an answer whose store call fails while Redis restarts', () => {
  it('is stored once Redis is back, within the lease: the retry replays it instead of running the handler a second time', async () => {
    const subject = await appOnOwnRedis()
    try {
      const { app, logs, runs, redis } = subject
      const first = (await subject.running('restarted')).answer
      // Redis goes away while the handler finishes (its claim with it: no persistence here).
      const { port } = redis.server
      await subject.stopRedisThenFinish()
      // The answer goes out although it could not be stored yet.
      expect((await first).statusCode).toBe(200)
      expect(logs.some((line) => line.msg.startsWith('idempotent response could not be stored yet'))).toBe(true)
      redis.server = await startRedisServer([], port)
      await waitFor(() => logs.some((line) => line.msg === 'idempotent response stored on a later attempt'))
      const retried = await pay(app, 'restarted')
      expect(retried.statusCode).toBe(200)
      expect(retried.headers['idempotent-replayed']).toBe('true')
      expect(runs).toHaveBeenCalledTimes(1)
      expect(logs.filter((line) => line.level >= LOG_LEVEL.error)).toEqual([])
    } finally {
      await subject.close()
    }
  })
})

describe('an answer whose store call keeps failing', () => {
  it('is given up, with an error line, once the lease has run out', async () => {
    const subject = await appOnOwnRedis(1000)
    try {
      const { logs } = subject
      const first = (await subject.running('gone')).answer
      await subject.stopRedisThenFinish()
      expect((await first).statusCode).toBe(200)
      await waitFor(() => logs.some((line) => line.msg === 'idempotent response could not be stored before its lease ran out; the key frees itself'))
      const attempts = logs.find((line) => line.level === LOG_LEVEL.error)?.attempts
      expect(attempts).toBeGreaterThan(2)
    } finally {
      await subject.close()
    }
  })
})
