import type { Redis } from 'ioredis'
import { MemoryIdempotencyStore, RedisIdempotencyStore } from '../../plugins/index.js'
import type { IdempotencyStore } from '../../plugins/index.js'

/** The built-in stores for describe.each, each made afresh per test: memory, and Redis under a prefix no other test shares. */
export function bothStores (redis: Redis, prefix: string): Array<[string, () => IdempotencyStore]> {
  return [
    ['memory', () => new MemoryIdempotencyStore()],
    ['redis', () => new RedisIdempotencyStore({ client: redis, prefix: `test:${prefix}:${Math.random()}:` })],
  ]
}
