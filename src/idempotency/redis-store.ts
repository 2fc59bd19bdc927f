import { isRedisClient, whenConnected } from '../redis-client.js'
import type { RedisClient } from '../redis-client.js'
import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, optionalString } from '../options.js'
import { readClaimReply } from './claim-reply.js'
import { readMaxmemoryPolicy } from './eviction-policy.js'
import { CLAIM, COMPLETE, RELEASE, RENEW } from './redis-scripts.js'
import { RedisBatch, luaScript } from './redis-batch.js'
import type { Callback } from './redis-batch.js'
import type { ClaimOutcome, IdempotencyStore, KeptResponse, StoredResponse } from './store.js'

/** Options of {@link RedisIdempotencyStore}. */
export interface RedisIdempotencyStoreOptions {
  /** An ioredis client or cluster; the store registers its scripts on it once. */
  client: RedisClient
  /**
   * Prefix of every Redis key; the idempotency key follows in a hash tag
   * (`prefix{key}`), so on Redis Cluster a key's data stays in one slot.
   * @default 'frs:idempotency:'
   */
  prefix?: string
}

// Tied to the interface as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const REDIS_STORE_KEYS = ['client', 'prefix'] as const satisfies ReadonlyArray<keyof RedisIdempotencyStoreOptions>

// The claim's reply holds a stored body's bytes: it is read as bytes.
const CLAIM_SCRIPT = luaScript(CLAIM, true)
const RENEW_SCRIPT = luaScript(RENEW)
const COMPLETE_SCRIPT = luaScript(COMPLETE)
const RELEASE_SCRIPT = luaScript(RELEASE)

/**
 * Idempotency keys in Redis, shared by every instance. Each state change
 * is one Lua script, run by its hash (EVALSHA) and loaded again when
 * Redis answers NOSCRIPT (after a restart or a SCRIPT FLUSH). The calls
 * made in one turn of the event loop go to Redis in one write. Works with
 * Redis Cluster through ioredis' Cluster client (there, one call at a
 * time).
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly prefix: string
  readonly #client: RedisClient
  readonly #batch: RedisBatch

  /** @throws FRS_ERR_OPTION_UNKNOWN for an option it does not know, FRS_ERR_OPTION_INVALID for a value it cannot use */
  constructor (options: RedisIdempotencyStoreOptions) {
    // Checked as the plugins' options are: from JavaScript, a misspelt
    // `prefix` would otherwise put every key under the default prefix.
    assertOptionsObject(options, 'RedisIdempotencyStore options')
    assertKnownKeys(options, REDIS_STORE_KEYS, 'RedisIdempotencyStore options')
    const client = options.client as unknown
    if (!isRedisClient(client)) {
      throw new FRS_ERR_OPTION_INVALID('RedisIdempotencyStore client', 'an ioredis Redis or Cluster instance', describeValue(client))
    }
    this.prefix = optionalString(options.prefix, 'RedisIdempotencyStore prefix', 'frs:idempotency:')
    this.#client = client
    // A cluster's keys spread over its nodes: there is no one socket to batch on.
    this.#batch = new RedisBatch(client, (client as { isCluster?: boolean }).isCluster !== true)
  }

  /** The Redis key of an idempotency key, hash-tagged for Redis Cluster. */
  redisKey (key: string): string {
    return `${this.prefix}{${key}}`
  }

  // Each call makes its one promise and settles it from the command's
  // callback; its arguments are read inside, so that a bad one rejects.
  claim (key: string, fingerprint: string, owner: string, leaseMs: number): Promise<ClaimOutcome> {
    return new Promise((resolve, reject) => {
      this.#batch.call(CLAIM_SCRIPT, [this.redisKey(key), fingerprint, owner, Math.ceil(leaseMs)], settle(resolve, reject, readClaimReply))
    })
  }

  renew (key: string, owner: string, leaseMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#batch.call(RENEW_SCRIPT, [this.redisKey(key), owner, Math.ceil(leaseMs)], settle(resolve, reject, isOne))
    })
  }

  /**
   * Stores the response; a body given as text is stored as its UTF-8
   * bytes, the bytes that were sent.
   */
  complete (key: string, owner: string, response: StoredResponse | KeptResponse, retentionMs: number, fingerprint = ''): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const args = [this.redisKey(key), owner, Math.ceil(retentionMs), response.status, JSON.stringify(response.headers), response.body, fingerprint]
      this.#batch.call(COMPLETE_SCRIPT, args, settle(resolve, reject, isOne))
    })
  }

  /** Waits for the client to connect (it refuses commands before, with `enableOfflineQueue: false`). */
  async ready (timeoutMs: number): Promise<boolean> {
    return await whenConnected(this.#client, timeoutMs)
  }

  /**
   * The `maxmemory-policy` of the Redis the store writes to, read from
   * `INFO memory` (which managed Redis services allow where they disable
   * CONFIG); undefined when the reply has no such field. Through a
   * `Cluster` client, INFO goes to one node, the one ioredis picks for a
   * command without a key. Rejects when INFO fails.
   */
  async maxmemoryPolicy (): Promise<string | undefined> {
    const info: unknown = await (this.#client as unknown as InfoClient).info('memory')
    return typeof info === 'string' ? readMaxmemoryPolicy(info) : undefined
  }

  release (key: string, owner: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#batch.call(RELEASE_SCRIPT, [this.redisKey(key), owner], settle(resolve, reject, isOne))
    })
  }
}

/** ioredis' INFO, which the client's type leaves out: only the startup check calls it. */
interface InfoClient {
  info: (section: string) => Promise<unknown>
}

/** A command's callback that settles a promise with its reply, read by `read`; a reply it cannot read rejects. */
function settle<T> (resolve: (value: T) => void, reject: (error: unknown) => void, read: (reply: unknown) => T): Callback {
  return (error, reply) => {
    if (error !== null) {
      reject(error)
      return
    }
    try {
      resolve(read(reply))
    } catch (readError) {
      reject(readError)
    }
  }
}

/** A write script's reply: 1 when the owner still held the key. */
function isOne (reply: unknown): boolean {
  return reply === 1
}
