import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import resilience, { RedisIdempotencyStore } from '../../plugins/index.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { startRedisServer, stopUnder } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait-for.js'
import { scrape, valueOf } from './helpers.js'

/*
 * Idempotency outcomes, store errors and store latency read from a real
 * scrape over HTTP: the in-memory store for the outcomes, a real Redis
 * that has gone away for the store errors.
 */

async function post (port: number, key: string, body: object): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/pay`, { method: 'POST', headers: { 'idempotency-key': key, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  await response.arrayBuffer()
  return response.status
}

describe('idempotency metrics from a real scrape', () => {
  let app: FastifyInstance
  let port: number
  const gate = deferred()
  let running = 0

  beforeAll(async () => {
    app = Fastify()
    await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true }, metrics: { path: '/metrics' } })
    app.post('/pay', { config: { idempotency: {} } }, async () => { running++; await gate.promise; return { paid: true } })
    port = await listen(app)
  })
  afterAll(async () => {
    gate.resolve()
    await app?.close()
  })

  it('counts executed, conflicting, replayed and mismatched requests, and times each store call', async () => {
    const first = post(port, '"k1"', { amount: 1 })
    await waitFor(() => running === 1)
    expect(await post(port, '"k1"', { amount: 1 })).toBe(409)
    gate.resolve()
    expect(await first).toBe(200)
    expect(await post(port, '"k1"', { amount: 1 })).toBe(200)
    expect(await post(port, '"k1"', { amount: 2 })).toBe(422)

    const { samples } = await scrape(port)
    const outcome = (name: string): number => valueOf(samples, 'idempotency_requests_total', { route: 'POST /pay', outcome: name })
    expect(outcome('executed')).toBe(1)
    expect(outcome('conflict')).toBe(1)
    expect(outcome('replayed')).toBe(1)
    expect(outcome('mismatch')).toBe(1)
    expect(outcome('store-error')).toBe(0)
    // Four claims and one stored answer, none failed.
    expect(valueOf(samples, 'idempotency_store_duration_seconds_count', { operation: 'claim' })).toBe(4)
    expect(valueOf(samples, 'idempotency_store_duration_seconds_count', { operation: 'complete' })).toBe(1)
    expect(valueOf(samples, 'idempotency_store_duration_seconds_count', { operation: 'release' })).toBe(0)
    for (const operation of ['claim', 'renew', 'complete', 'release']) expect(valueOf(samples, 'idempotency_store_errors_total', { operation })).toBe(0)
  })
})

describe('idempotency store errors from a real scrape', () => {
  let app: FastifyInstance
  let port: number
  let client: Redis

  beforeAll(async () => {
    const server = await startRedisServer()
    client = new Redis(server.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true })
    client.on('error', () => {})
    await client.connect()
    await client.ping()
    await stopUnder(server, client)
    app = Fastify()
    await app.register(resilience, {
      loadShedding: false,
      idempotency: { unscoped: true, store: new RedisIdempotencyStore({ client }), storeTimeoutMs: 300 },
      metrics: { path: '/metrics' },
    })
    app.post('/pay', { config: { idempotency: {} } }, async () => ({ paid: true }))
    port = await listen(app)
  })
  afterAll(async () => {
    await app?.close()
    client?.disconnect()
  })

  it('counts a claim the store could not answer, as an outcome and as a failed store call', async () => {
    expect(await post(port, '"k2"', { amount: 1 })).toBe(503)
    const { samples } = await scrape(port)
    expect(valueOf(samples, 'idempotency_requests_total', { route: 'POST /pay', outcome: 'store-error' })).toBe(1)
    expect(valueOf(samples, 'idempotency_requests_total', { route: 'POST /pay', outcome: 'executed' })).toBe(0)
    expect(valueOf(samples, 'idempotency_store_errors_total', { operation: 'claim' })).toBe(1)
    expect(valueOf(samples, 'idempotency_store_duration_seconds_count', { operation: 'claim' })).toBe(1)
  })
})
