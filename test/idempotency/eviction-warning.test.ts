import { Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import resilience, { RedisIdempotencyStore } from '../../plugins/index.js'
import type { FastifyInstance } from 'fastify'
import { LOG_LEVEL, createTestApp } from '../helpers/app.js'
import type { LogLine } from '../helpers/app.js'
import { startRedisServer } from '../helpers/redis-server.js'
import type { RedisServerHandle } from '../helpers/redis-server.js'

let app: FastifyInstance | undefined
let clients: Redis[] = []
let server: RedisServerHandle | undefined
afterEach(async () => {
  await app?.close()
  for (const client of clients) client.disconnect()
  await server?.stop()
  app = undefined
  clients = []
  server = undefined
})

function connect (url: string, options: { username?: string, password?: string, enableReadyCheck?: boolean } = {}): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, ...options })
  clients.push(client)
  return client
}

/** An app on a Redis store, started: its startup logs are in `logs`. */
async function startApp (client: Redis, onPay = (): void => {}): Promise<LogLine[]> {
  const test = createTestApp()
  app = test.app
  await app.register(resilience, { loadShedding: false, idempotency: { store: new RedisIdempotencyStore({ client, prefix: 'evict:' }), unscoped: true } })
  app.post('/pay', { config: { idempotency: {} } }, async () => {
    onPay()
    return { paid: true }
  })
  await app.ready()
  return test.logs
}

function evictionWarnings (logs: readonly LogLine[]): LogLine[] {
  return logs.filter((line) => line.level === LOG_LEVEL.warn && line.msg.includes('maxmemory-policy'))
}

describe('Redis eviction policy checked at startup', () => {
  for (const policy of ['allkeys-lru', 'volatile-ttl']) {
    it(`a Redis with maxmemory-policy ${policy} gets one warn line that names the policy and says what it means`, async () => {
      server = await startRedisServer(['--maxmemory-policy', policy])
      const logs = await startApp(connect(server.url))
      const warnings = evictionWarnings(logs)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]?.msg).toContain(`maxmemory-policy is ${policy}`)
      expect(warnings[0]?.msg).toContain('may evict stored answers and claims under memory pressure; a retry would then run its handler again; set maxmemory-policy noeviction')
      expect(warnings[0]?.maxmemoryPolicy).toBe(policy)
    })
  }

  it('a Redis with maxmemory-policy noeviction gets no such line, though its policy was read', async () => {
    server = await startRedisServer(['--maxmemory-policy', 'noeviction'])
    const client = connect(server.url)
    const admin = connect(server.url)
    // Both clients past ioredis' own ready check (an INFO), then Redis' counts zeroed.
    await Promise.all([client.ping(), admin.ping()])
    await admin.config('RESETSTAT')
    const logs = await startApp(client)
    expect(/cmdstat_info:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1]).toBe('1')
    expect(evictionWarnings(logs)).toEqual([])
    expect(logs.filter((line) => line.msg.includes('eviction policy'))).toEqual([])
  })

  it('a client that may not run INFO starts as before: no warning, a debug line, and keyed requests work', async () => {
    server = await startRedisServer(['--maxmemory-policy', 'allkeys-lru'])
    // As on managed Redis that refuses some commands: an ACL user without INFO.
    await connect(server.url).acl('SETUSER', 'app', 'on', '>secret', '~*', '&*', '+@all', '-info')
    // ioredis' own ready check runs INFO too: off, as such a setup needs.
    const client = connect(server.url, { username: 'app', password: 'secret', enableReadyCheck: false })
    await expect(client.info('memory')).rejects.toThrow(/NOPERM/)
    const logs = await startApp(client)
    expect(evictionWarnings(logs)).toEqual([])
    const debug = logs.filter((line) => line.level === LOG_LEVEL.debug && line.msg.includes('eviction policy not checked'))
    expect(debug).toHaveLength(1)
    expect(debug[0]?.err?.message).toMatch(/NOPERM/)
    const answer = await app?.inject({ method: 'POST', url: '/pay', headers: { 'idempotency-key': 'acl' }, payload: {} })
    expect(answer?.statusCode).toBe(200)
  })

  it('under memory pressure an allkeys-lru Redis drops a stored answer and the retry runs its handler again: the warning was given at startup', async () => {
    server = await startRedisServer(['--maxmemory-policy', 'allkeys-lru'])
    const admin = connect(server.url)
    const client = connect(server.url)
    const runs = vi.fn()
    const logs = await startApp(client, runs)
    expect(evictionWarnings(logs)).toHaveLength(1)

    const pay = async (): Promise<number | undefined> => (await app?.inject({ method: 'POST', url: '/pay', headers: { 'idempotency-key': 'evicted' }, payload: {} }))?.statusCode
    expect(await pay()).toBe(200)
    expect(await pay()).toBe(200)
    expect(runs).toHaveBeenCalledTimes(1)
    expect(await admin.keys('evict:*')).toHaveLength(1)

    // 1 MB of room above what Redis holds now, then other keys written
    // until Redis has evicted the stored answer: a loop on Redis' state,
    // not on time.
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1])
    await admin.config('SET', 'maxmemory', String(used + 1_000_000))
    const filler = 'x'.repeat(1024)
    for (let batch = 0; batch < 200 && (await admin.keys('evict:*')).length > 0; batch++) {
      const pipeline = admin.pipeline()
      for (let index = 0; index < 500; index++) pipeline.set(`filler:${batch}:${index}`, filler)
      await pipeline.exec()
    }
    expect(await admin.keys('evict:*')).toEqual([])
    expect(Number(/evicted_keys:(\d+)/.exec(await admin.info('stats'))?.[1])).toBeGreaterThan(0)

    expect(await pay()).toBe(200)
    expect(runs).toHaveBeenCalledTimes(2)
  })
})
