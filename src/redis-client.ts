/**
 * The application's ioredis client (a `Redis` or a `Cluster`), typed by the
 * methods this package checks for rather than by ioredis' own types, so
 * that ioredis stays an optional peer: an application that uses no Redis
 * feature type-checks without it installed. Internally the client is used
 * as ioredis' type.
 */
export interface RedisClient {
  /** ioredis' `evalsha`: the idempotency store and the error budget fleet's flushes run their Lua scripts with it. */
  evalsha: (...args: never[]) => unknown
  /** ioredis' `pipeline`: batched commands (the error budget fleet's reads). */
  pipeline: (...args: never[]) => unknown
  /** ioredis' `multi`: commands applied atomically. */
  multi: (...args: never[]) => unknown
}

/** Whether a value has the shape of an ioredis client. */
export function isRedisClient (value: unknown): value is RedisClient {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Record<string, unknown>
  return typeof candidate.evalsha === 'function' && typeof candidate.pipeline === 'function' && typeof candidate.multi === 'function'
}

/** What {@link whenConnected} reads of a client: ioredis' connection status and its events. */
interface ConnectionEvents {
  status?: unknown
  once?: (event: string, listener: () => void) => unknown
  removeListener?: (event: string, listener: () => void) => unknown
}

/**
 * Resolves true once `client` is connected and ready for commands, false
 * after `timeoutMs` or at once for a client that will not connect by itself
 * (created with `lazyConnect`, or closed). A client built with
 * `enableOfflineQueue: false` refuses commands until then, so a server that
 * takes traffic before it would refuse its first requests.
 */
export async function whenConnected (client: RedisClient, timeoutMs: number): Promise<boolean> {
  const { status, once, removeListener } = client as ConnectionEvents
  if (status === 'ready') return true
  if (status !== 'connecting' && status !== 'connect' && status !== 'reconnecting') return false
  if (typeof once !== 'function' || typeof removeListener !== 'function') return false
  return await new Promise<boolean>((resolve) => {
    const onReady = (): void => {
      clearTimeout(timer)
      resolve(true)
    }
    const timer = setTimeout(() => {
      removeListener.call(client, 'ready', onReady)
      resolve(false)
    }, timeoutMs)
    once.call(client, 'ready', onReady)
  })
}
