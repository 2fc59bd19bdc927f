import compress from '@fastify/compress'
import { Redis } from 'ioredis'
import { gunzipSync } from 'node:zlib'
import { request } from 'undici'
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest'
import resilience, { MemoryIdempotencyStore, RedisIdempotencyStore } from '../../plugins/index.js'
import type { IdempotencyStore } from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { listen } from '../helpers/listen.js'

/*
 * Idempotent routes next to the plugins apps register with them, in the
 * order those plugins' own docs suggest, over real sockets with a real
 * client: what a retry gets must be what the first request got, readable.
 */

const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
afterAll(async () => { await redis.quit() })

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const stores: Array<[string, () => IdempotencyStore]> = [
  ['memory', () => new MemoryIdempotencyStore()],
  ['redis', () => new RedisIdempotencyStore({ client: redis, prefix: `test:other-plugins:${Math.random()}:` })],
]

async function post (url: string, key: string, acceptEncoding: string): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, bytes: Buffer }> {
  const response = await request(url, { method: 'POST', body: '{"sku":7}', headers: { 'content-type': 'application/json', 'idempotency-key': key, 'accept-encoding': acceptEncoding } })
  return { status: response.statusCode, headers: response.headers, bytes: Buffer.from(await response.body.arrayBuffer()) }
}

describe.each(stores)('idempotency after @fastify/compress, %s store', (_name, makeStore) => {
  it('stores the answer as the handler gave it: a retry with another Accept-Encoding, or none, gets it readable, and the handler ran once', async () => {
    current = createTestApp()
    const { app } = current
    // Registered first, as its docs suggest: it compresses before the library's onSend.
    await app.register(compress)
    await app.register(resilience, { loadShedding: false, idempotency: { store: makeStore(), unscoped: true } })
    let runs = 0
    app.post('/orders', { config: { idempotency: { required: true } } }, async () => ({ runs: ++runs, items: 'x'.repeat(2000) }))
    const url = `http://127.0.0.1:${await listen(app)}/orders`

    const first = await post(url, 'k1', 'gzip')
    expect(first.status).toBe(200)
    expect(first.headers['content-encoding']).toBe('gzip')
    const answer = gunzipSync(first.bytes).toString()
    expect(JSON.parse(answer)).toEqual({ runs: 1, items: 'x'.repeat(2000) })

    const plain = await post(url, 'k1', 'identity')
    expect(plain.headers['idempotent-replayed']).toBe('true')
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(plain.bytes.toString()).toBe(answer)

    const gzipped = await post(url, 'k1', 'gzip')
    expect(gzipped.headers['idempotent-replayed']).toBe('true')
    expect(gzipped.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gzipped.bytes).toString()).toBe(answer)
    expect(runs).toBe(1)
  })
})

describe('idempotency after a plugin that encodes in a coding it cannot undo', () => {
  it('releases the key with a warn line naming the coding, so that the retry runs the handler', async () => {
    current = createTestApp()
    const { app, logs } = current
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-encoding', 'zstd')
      return payload
    })
    await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true } })
    let runs = 0
    app.post('/orders', { config: { idempotency: { required: true } } }, async () => ({ runs: ++runs }))
    const url = `http://127.0.0.1:${await listen(app)}/orders`
    await post(url, 'k1', 'zstd')
    const retry = await post(url, 'k1', 'zstd')
    expect(retry.headers['idempotent-replayed']).toBeUndefined()
    expect(runs).toBe(2)
    expect(logs).toContainEqual(expect.objectContaining({ level: LOG_LEVEL.warn, why: expect.stringContaining('content-encoding: zstd') as unknown }))
  })
})
