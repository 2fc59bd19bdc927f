import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { RedisIdempotencyStore } from '../../plugins/index.js'
import type { FastifyInstance } from 'fastify'
import { freePort, startRedisServer } from '../helpers/redis-server.js'
import type { RedisServerHandle } from '../helpers/redis-server.js'

let app: FastifyInstance | undefined
let client: Redis | undefined
let server: RedisServerHandle | undefined
afterEach(async () => {
  await app?.close()
  client?.disconnect()
  await server?.stop()
  app = undefined
  client = undefined
  server = undefined
})

describe('startup with a Redis store that is still connecting', () => {
  it('the server is ready only once the store is, so its first keyed request runs instead of finding Redis unavailable', async () => {
    const port = await freePort()
    // As docs/idempotency.md advises: fail fast instead of queueing commands.
    // Reconnect attempts every 50 ms, so the test waits on Redis, not on a backoff.
    client = new Redis(`redis://127.0.0.1:${port}`, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 })
    client.on('error', () => {})
    app = Fastify()
    await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, storeTimeoutMs: 30_000, store: new RedisIdempotencyStore({ client, prefix: `startup:${port}:` }) } })
    app.post('/orders', { config: { idempotency: {} } }, async () => ({ created: true }))
    const order: string[] = []
    const ready = app.ready().then(() => { order.push('app ready') })
    // Redis starts after the app began its startup.
    server = await startRedisServer([], port)
    order.push('redis started')
    await ready
    expect(order).toEqual(['redis started', 'app ready'])
    expect(client.status).toBe('ready')
    const answer = await app.inject({ method: 'POST', url: '/orders', headers: { 'idempotency-key': 'first-order' }, payload: { sku: 7 } })
    expect(answer.statusCode).toBe(200)
    expect(answer.json()).toEqual({ created: true })
  })

  it('a store whose client cannot connect is not ready after its wait, and a lazily connecting client is not waited for', async () => {
    const port = await freePort()
    client = new Redis(`redis://127.0.0.1:${port}`, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 })
    client.on('error', () => {})
    const store = new RedisIdempotencyStore({ client, prefix: `startup:${port}:` })
    expect(await store.ready(100)).toBe(false)
    const lazy = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true })
    expect(await new RedisIdempotencyStore({ client: lazy }).ready(5000)).toBe(false)
    lazy.disconnect()
  })
})
