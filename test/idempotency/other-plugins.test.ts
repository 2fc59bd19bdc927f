import compress from '@fastify/compress'
import multipart from '@fastify/multipart'
import type { FastifyMultipartAttachFieldsToBodyOptions, FastifyMultipartOptions } from '@fastify/multipart'
import { Redis } from 'ioredis'
import Fastify from 'fastify'
import { createHash } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import { FormData, request } from 'undici'
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { IdempotencyOptions } from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { listen } from '../helpers/listen.js'
import { bothStores } from './both-stores.js'

/*
 * Idempotent routes next to the plugins apps register with them, in the
 * order those plugins' own docs suggest, over real sockets with a real
 * client: what a retry gets must be what the first request got, readable.
 */

const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
afterAll(async () => { await redis.quit() })

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const stores = bothStores(redis, 'other-plugins')

async function post (url: string, key: string, acceptEncoding: string): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, bytes: Buffer }> {
  const response = await request(url, { method: 'POST', body: '{"sku":7}', headers: { 'content-type': 'application/json', 'idempotency-key': key, 'accept-encoding': acceptEncoding } })
  return { status: response.statusCode, headers: response.headers, bytes: Buffer.from(await response.body.arrayBuffer()) }
}

describe.each(stores)('idempotency after @fastify/compress, %s store', (_name, makeStore) => {
  it('stores the answer as the handler gave it: a retry with another Accept-Encoding, or none, gets it readable, and the handler ran once', async () => {
    // As users create it: no logger.
    current = { app: Fastify(), logs: [] }
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

async function upload (url: string, key: string, file: string): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: Record<string, unknown> }> {
  const form = new FormData()
  form.append('file', new Blob([file]), 'order.csv')
  const response = await request(url, { method: 'POST', body: form, headers: { 'idempotency-key': key, 'x-file-digest': createHash('sha256').update(file).digest('hex') } })
  return { status: response.statusCode, headers: response.headers, body: await response.body.json() as Record<string, unknown> }
}

async function uploadApp (multipartOptions: FastifyMultipartOptions | FastifyMultipartAttachFieldsToBodyOptions, idempotency: IdempotencyOptions = {}): Promise<{ url: string, runs: () => number }> {
  current = createTestApp()
  const { app } = current
  await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, ...idempotency } })
  await app.register(multipart, multipartOptions)
  let runs = 0
  app.post('/uploads', { config: { idempotency: {} } }, async (request) => {
    runs++
    const body = request.body as { file?: { toBuffer: () => Promise<Buffer> } } | undefined
    const file = body?.file ?? await request.file()
    return { runs, bytes: (await file?.toBuffer())?.length }
  })
  return { url: `http://127.0.0.1:${await listen(app)}/uploads`, runs: () => runs }
}

describe('idempotency with @fastify/multipart', () => {
  it('refuses a keyed upload the handler reads as a stream with 415 and a warn line: it cannot be told from a different upload', async () => {
    const { url, runs } = await uploadApp({})
    const refused = await upload(url, 'u1', 'sku,qty\n7,1\n')
    expect(refused.status).toBe(415)
    expect(refused.body).toMatchObject({ type: 'urn:fastify-resilience:problem:idempotency-body-unsupported', status: 415 })
    expect(runs()).toBe(0)
    expect(current?.logs).toContainEqual(expect.objectContaining({ level: LOG_LEVEL.warn, route: 'POST /uploads' }))
    // Without a key, the route serves uploads as before.
    const form = new FormData()
    form.append('file', new Blob(['sku,qty\n']), 'order.csv')
    expect((await request(url, { method: 'POST', body: form })).statusCode).toBe(200)
    expect(runs()).toBe(1)
  })

  it('refuses with 415, not a 500, a body that contains itself (attachFieldsToBody: true)', async () => {
    const { url, runs } = await uploadApp({ attachFieldsToBody: true })
    const refused = await upload(url, 'u1', 'sku,qty\n7,1\n')
    expect(refused.status).toBe(415)
    expect(refused.body).toMatchObject({ type: 'urn:fastify-resilience:problem:idempotency-body-unsupported' })
    expect(runs()).toBe(0)
  })

  it('honours the key with a fingerprint() that covers the upload: a retry is replayed, another file under the key is refused', async () => {
    const { url, runs } = await uploadApp({}, { fingerprint: (request) => String(request.headers['x-file-digest']) })
    expect((await upload(url, 'u1', 'sku,qty\n7,1\n')).body).toEqual({ runs: 1, bytes: 12 })
    const retry = await upload(url, 'u1', 'sku,qty\n7,1\n')
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.body).toEqual({ runs: 1, bytes: 12 })
    expect((await upload(url, 'u1', 'sku,qty\n8,2\n')).status).toBe(422)
    expect(runs()).toBe(1)
  })
})
