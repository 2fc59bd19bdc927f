import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { RedisIdempotencyStore } from '../../src/idempotency/index.js'
import { describeStoreContract } from './store-contract.js'

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

  it('several stores may share one client', async () => {
    const first = new RedisIdempotencyStore({ client, prefix: 'a:' })
    const second = new RedisIdempotencyStore({ client, prefix: 'b:' })
    expect(await first.claim('same', 'fp', 'o', 5000)).toEqual({ kind: 'acquired' })
    expect(await second.claim('same', 'fp', 'o2', 5000)).toEqual({ kind: 'acquired' })
  })

  it('refuses something that is not an ioredis client, with a clear message', () => {
    expect(() => new RedisIdempotencyStore({ client: {} as never })).toThrow(/RedisIdempotencyStore client' expects an ioredis Redis or Cluster instance, instead got an 'object'/)
  })
})
