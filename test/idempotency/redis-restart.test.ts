import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it, vi } from 'vitest'
import resilience, { RedisIdempotencyStore } from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import { startRedisServer } from '../helpers/redis-server.js'
import type { RedisServerHandle } from '../helpers/redis-server.js'

const dir = mkdtempSync(join(tmpdir(), 'frs-redis-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('Redis restarted mid-run', () => {
  it('answers 503 while Redis is down, then replays the stored answer: the handler never runs twice', async () => {
    // Persistence on for this test, so that the stored answer survives the restart.
    const durable = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]
    let server: RedisServerHandle = await startRedisServer(durable)
    const client = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 })
    client.on('error', () => {})
    const { app } = createTestApp()
    const runs = vi.fn()
    // A generous store timeout: with every write fsynced, a busy disk can hold
    // a claim for hundreds of milliseconds. While Redis is down, the client's
    // one retry fails within its retry delay, whatever the timeout.
    await app.register(resilience, { loadShedding: false, idempotency: { store: new RedisIdempotencyStore({ client }), unscoped: true, storeTimeoutMs: 5_000 } })
    app.post('/pay', { config: { idempotency: {} } }, async () => { runs(); return { paid: runs.mock.calls.length } })
    const pay = async (): Promise<{ statusCode: number, body: string, headers: Record<string, unknown> }> => await app.inject({ method: 'POST', url: '/pay', headers: { 'idempotency-key': 'restart' }, payload: {} })

    try {
      const first = await pay()
      expect(first.statusCode).toBe(200)

      await server.stop()
      const whileDown = await pay()
      expect(whileDown.statusCode).toBe(503)

      server = await startRedisServer(durable, server.port)
      // The restarted server has forgotten the scripts (NOSCRIPT) but kept the data.
      let afterRestart = await pay()
      for (let attempt = 0; afterRestart.statusCode === 503 && attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        afterRestart = await pay()
      }
      expect(afterRestart.statusCode).toBe(200)
      expect(afterRestart.headers['idempotent-replayed']).toBe('true')
      expect(afterRestart.body).toBe(first.body)
      expect(runs).toHaveBeenCalledTimes(1)
    } finally {
      await app.close()
      client.disconnect()
      await server.stop()
    }
  }, 30_000)
})
