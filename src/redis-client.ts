/**
 * The application's ioredis client (a `Redis` or a `Cluster`), typed by the
 * methods this package checks for rather than by ioredis' own types, so
 * that ioredis stays an optional peer: an application that uses no Redis
 * feature type-checks without it installed. Internally the client is used
 * as ioredis' type.
 */
export interface RedisClient {
  /** ioredis' `defineCommand`: the stores register their Lua scripts with it. */
  defineCommand: (...args: never[]) => unknown
  /** ioredis' `pipeline`: batched commands (the fleets' flushes and reads). */
  pipeline: (...args: never[]) => unknown
  /** ioredis' `multi`: commands applied atomically. */
  multi: (...args: never[]) => unknown
}

/** Whether a value has the shape of an ioredis client. */
export function isRedisClient (value: unknown): value is RedisClient {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Record<string, unknown>
  return typeof candidate.defineCommand === 'function' && typeof candidate.pipeline === 'function' && typeof candidate.multi === 'function'
}
