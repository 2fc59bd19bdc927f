import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it, vi } from 'vitest'
import { RedisIdempotencyStore } from '../../src/idempotency/index.js'
import { describeStoreContract } from './store-contract.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { APP_PROPERTY_RUNS, anyString } from '../helpers/arbitraries.js'

const client = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
afterAll(async () => { await client.quit() })

describeStoreContract('RedisIdempotencyStore', () => ({
  store: new RedisIdempotencyStore({ client, prefix: 'test:idem:' }),
  elapse: async (ms) => { await new Promise((resolve) => setTimeout(resolve, ms)) },
}))

describe('RedisIdempotencyStore on a real redis-server', () => {
  it('names keys with the prefix and a hash tag around the idempotency key', async () => {
    const store = new RedisIdempotencyStore({ client, prefix: 'shop:idem:' })
    await store.claim('tag-check', 'fp', 'o', 5000)
    expect(await client.exists('shop:idem:{tag-check}')).toBe(1)
    expect(store.redisKey('a')).toBe('shop:idem:{a}')
  })

  it('keeps working after the server forgets its scripts (NOSCRIPT)', async () => {
    const store = new RedisIdempotencyStore({ client, prefix: 'test:idem:' })
    await store.claim('before-flush', 'fp', 'o', 5000)
    await client.script('FLUSH')
    expect(await store.claim('after-flush', 'fp', 'o', 5000)).toEqual({ kind: 'acquired' })
    expect(await store.release('after-flush', 'o')).toBe(true)
  })

  it('the claim lease is a Redis expiry, separate from the retention of the result', async () => {
    const store = new RedisIdempotencyStore({ client, prefix: 'test:idem:' })
    await store.claim('ttl', 'fp', 'o', 3000)
    const leaseTtl = await client.pttl(store.redisKey('ttl'))
    await store.complete('ttl', 'o', { status: 200, headers: {}, body: Buffer.from('x') }, 86_400_000)
    const retentionTtl = await client.pttl(store.redisKey('ttl'))
    expect(leaseTtl).toBeGreaterThan(0)
    expect(leaseTtl).toBeLessThanOrEqual(3000)
    expect(retentionTtl).toBeGreaterThan(86_000_000)
  })

  it('a completion its owner sends again (its reply lost, and the call re-sent, as ioredis does after reconnecting) answers true again and changes nothing', async () => {
    const store = new RedisIdempotencyStore({ client, prefix: `test:idem:${randomUUID()}:` })
    await store.claim('resent', 'fp', 'o', 5000)
    const answer = { status: 201, headers: { 'content-type': 'text/plain' }, body: Buffer.from('first') }
    expect(await store.complete('resent', 'o', answer, 60_000)).toBe(true)
    expect(await store.complete('resent', 'o', { ...answer, body: Buffer.from('again') }, 60_000)).toBe(true)
    expect(await store.complete('resent', 'other', answer, 60_000)).toBe(false)
    const replay = await store.claim('resent', 'fp', 'x', 5000)
    expect(replay.kind === 'completed' ? replay.response.body.toString() : replay.kind).toBe('first')
    expect(await store.renew('resent', 'o', 5000)).toBe(false)
    expect(await store.release('resent', 'o')).toBe(false)
  })

  it('several stores may share one client', async () => {
    const first = new RedisIdempotencyStore({ client, prefix: 'a:' })
    const second = new RedisIdempotencyStore({ client, prefix: 'b:' })
    expect(await first.claim('same', 'fp', 'o', 5000)).toEqual({ kind: 'acquired' })
    expect(await second.claim('same', 'fp', 'o2', 5000)).toEqual({ kind: 'acquired' })
  })

  it('fails a call at once when its client lacks the store\'s command, alone or in a batch, instead of never answering', async () => {
    const own = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
    try {
      const store = new RedisIdempotencyStore({ client: own, prefix: 'test:idem:gone:' })
      expect(await store.claim('present', 'fp', 'o', 5000)).toEqual({ kind: 'acquired' })
      // What a client another library altered, or one swapped under the store, would look like.
      Object.assign(own, { evalshaBuffer: undefined })
      await expect(store.claim('alone', 'fp', 'o', 5000)).rejects.toThrow(/no command evalshaBuffer/)
      const batch = await Promise.allSettled([store.claim('first', 'fp', 'o', 5000), store.claim('second', 'fp', 'o', 5000)])
      expect(batch.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected'])
      // The rest of the store still works.
      expect(await store.release('present', 'o')).toBe(true)
    } finally {
      await own.quit()
    }
  })

  it('fails a claim with FRS_ERR_IDEMPOTENCY_STORE_REPLY when the stored record cannot be read, instead of replaying what it holds', async () => {
    const store = new RedisIdempotencyStore({ client, prefix: 'test:idem:edited:' })
    const written = { state: 'completed', fp: 'fp', status: '201', headers: '{"location":"/orders/7"}', body: 'paid' }
    const edits: Array<Record<string, string>> = [
      { headers: 'not json' },
      { headers: '["a JSON array"]' },
      { headers: 'null' },
      { headers: '{"location":{"path":"/orders/7"}}' },
      { headers: '{"location":"/orders/7","link":5}' },
      { status: 'abc' },
      { status: '20' },
      { status: '' },
    ]
    for (const [index, edit] of edits.entries()) {
      const key = `edit-${index}`
      await client.hset(store.redisKey(key), { ...written, ...edit })
      await expect(store.claim(key, 'fp', 'o', 5000), JSON.stringify(edit)).rejects.toMatchObject({ code: 'FRS_ERR_IDEMPOTENCY_STORE_REPLY' })
    }
    // A record missing its status field altogether.
    await client.hset(store.redisKey('no-status'), { state: 'completed', fp: 'fp', headers: '{}', body: 'x' })
    await expect(store.claim('no-status', 'fp', 'o', 5000)).rejects.toMatchObject({ code: 'FRS_ERR_IDEMPOTENCY_STORE_REPLY' })
    // A state the store does not know, whatever the fingerprint and owner: not a claim in flight (409) nor a mismatch (422).
    for (const [index, state] of ['paused', 'Completed', ''].entries()) {
      const key = `unknown-state-${index}`
      await client.hset(store.redisKey(key), { ...written, state, owner: 'holder' })
      for (const [fp, owner] of [['fp', 'o'], ['fp', 'holder'], ['other-fp', 'o']] as const) {
        await expect(store.claim(key, fp, owner, 5000), `${state} ${fp} ${owner}`).rejects.toMatchObject({ code: 'FRS_ERR_IDEMPOTENCY_STORE_REPLY', message: expect.stringContaining('a record whose state is') as string })
      }
    }
    // The unedited record still replays.
    await client.hset(store.redisKey('intact'), written)
    const replay = await store.claim('intact', 'fp', 'o', 5000)
    expect(replay.kind === 'completed' ? [replay.response.status, replay.response.headers, replay.response.body.toString()] : replay.kind)
      .toEqual([201, { location: '/orders/7' }, 'paid'])
  })

  it('a claimed key whose expiry was removed (PERSIST) answers in progress with no wait, not an error', async () => {
    const store = new RedisIdempotencyStore({ client, prefix: 'test:idem:' })
    await store.claim('persisted', 'fp', 'holder', 5000)
    await client.persist(store.redisKey('persisted'))
    expect(await store.claim('persisted', 'fp', 'other', 5000)).toEqual({ kind: 'in-progress', retryAfterMs: 0 })
  })

  it('a body given as text is stored as its UTF-8 bytes and replayed as them, lone surrogates included', async () => {
    const store = new RedisIdempotencyStore({ client, prefix: 'test:idem:text:' })
    await fc.assert(fc.asyncProperty(fc.oneof(anyString, fc.string({ unit: 'grapheme', maxLength: 40 })), async (text) => {
      const key = randomUUID()
      await store.claim(key, 'fp', 'o', 5000)
      expect(await store.complete(key, 'o', { status: 200, headers: {}, body: text }, 60_000)).toBe(true)
      const replay = await store.claim(key, 'fp', 'other', 5000)
      if (replay.kind !== 'completed') throw new Error(`expected a replay, got ${replay.kind}`)
      expect(Buffer.compare(replay.response.body, Buffer.from(text))).toBe(0)
    }), APP_PROPERTY_RUNS)
  })

  it('refuses something that is not an ioredis client, with a clear message', () => {
    expect(() => new RedisIdempotencyStore({ client: {} as never })).toThrow(/RedisIdempotencyStore client' expects an ioredis Redis or Cluster instance, instead got an 'object'/)
  })
})

describe('RedisIdempotencyStore batching', () => {
  // Reads the server processed: one per write the client made.
  async function readsProcessed (redis: Redis): Promise<number> {
    const stats = await redis.info('stats')
    return Number(/total_reads_processed:(\d+)/.exec(stats)?.[1])
  }

  it('sends the calls made in one turn to Redis together, not one write each', async () => {
    const server = await startRedisServer()
    const own = new Redis(server.url, { maxRetriesPerRequest: 1 })
    try {
      const store = new RedisIdempotencyStore({ client: own, prefix: 'batch:' })
      await store.claim('warm', 'fp', 'o', 5000)
      const before = await readsProcessed(own)
      // The socket's own writes, counted on the way through: one chunk, or several at once.
      const socket = own.stream as unknown as { _write: () => void, _writev: () => void }
      const write = vi.spyOn(socket, '_write')
      const writev = vi.spyOn(socket, '_writev')
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
      const outcomes = await Promise.all(keys.map(async (key) => await store.claim(key, 'fp', 'o', 5000)))
      const socketWrites = write.mock.calls.length + writev.mock.calls.length
      const reads = await readsProcessed(own) - before
      expect(outcomes).toEqual(keys.map(() => ({ kind: 'acquired' })))
      expect(socketWrites).toBe(1)
      // 20 claims and the INFO that reads the figure; one write each would be 21 reads.
      expect(reads).toBeLessThanOrEqual(5)
    } finally {
      await own.quit()
      await server.stop()
    }
  })

  it('answers every call of a batch with its own outcome, a NOSCRIPT reload included', async () => {
    const store = new RedisIdempotencyStore({ client, prefix: 'test:idem:batch:' })
    await store.claim('done', 'fp', 'o', 5000)
    await store.complete('done', 'o', { status: 201, headers: { 'content-type': 'text/plain' }, body: Buffer.from('made') }, 60_000)
    await store.claim('held', 'fp', 'o', 5000)
    await client.script('FLUSH')
    const [fresh, replayed, mismatch, held, renewed, lost, released] = await Promise.all([
      store.claim('fresh', 'fp', 'o', 5000),
      store.claim('done', 'fp', 'o2', 5000),
      store.claim('done', 'other', 'o2', 5000),
      store.claim('held', 'fp', 'o2', 5000),
      store.renew('held', 'o', 5000),
      store.renew('held', 'o2', 5000),
      store.release('fresh-never-claimed', 'o'),
    ])
    expect(fresh).toEqual({ kind: 'acquired' })
    expect(replayed).toEqual({ kind: 'completed', response: { status: 201, headers: { 'content-type': 'text/plain' }, body: Buffer.from('made') } })
    expect(mismatch).toEqual({ kind: 'mismatch' })
    expect(held).toMatchObject({ kind: 'in-progress' })
    expect(renewed).toBe(true)
    expect(lost).toBe(false)
    expect(released).toBe(false)
  })
})
