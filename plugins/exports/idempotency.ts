// fastify-resilience/idempotency: idempotency keys over a memory or Redis
// store; the Redis store takes the application's ioredis client.
export { idempotency } from '../idempotency.js'
export type { IdempotencyOptions, RouteIdempotencyConfig } from '../idempotency.js'
export { MemoryIdempotencyStore, RedisIdempotencyStore, DEFAULT_REPLAY_HEADERS } from '../../src/idempotency/index.js'
export type {
  IdempotencyStore,
  ClaimOutcome,
  StoredResponse,
  KeptResponse,
  MemoryIdempotencyStoreOptions,
  RedisIdempotencyStoreOptions,
} from '../../src/idempotency/index.js'
export { monotonicClock, wallClock } from '../../src/clock.js'
export type { Clock } from '../../src/clock.js'
export type { RedisClient } from '../../src/redis-client.js'
