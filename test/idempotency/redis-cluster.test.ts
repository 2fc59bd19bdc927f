import { describe, expect, it, vi } from 'vitest'
import resilience, { RedisIdempotencyStore } from '../../plugins/index.js'
import { LOG_LEVEL, createTestApp } from '../helpers/app.js'
import { useRedisCluster } from '../helpers/redis-cluster.js'
import { describeStoreContract } from './store-contract.js'

const cluster = useRedisCluster()

describeStoreContract('RedisIdempotencyStore on a 3-master Redis Cluster', () => ({
  store: new RedisIdempotencyStore({ client: cluster(), prefix: 'cluster:' }),
  elapse: async (ms) => { await new Promise((resolve) => setTimeout(resolve, ms)) },
}))

describe('idempotency plugin on Redis Cluster', () => {
  it('keys spread over the masters, and 200 concurrent identical requests still run once', async () => {
    const store = new RedisIdempotencyStore({ client: cluster(), prefix: 'cluster-plugin:' })
    const { app } = createTestApp()
    const runs = vi.fn()
    // A busy machine must not shed the burst of duplicates (shedding has its own tests).
    await app.register(resilience, { loadShedding: false, idempotency: { store, unscoped: true } })
    app.post('/pay', { config: { idempotency: {} } }, async () => {
      runs()
      await new Promise((resolve) => setTimeout(resolve, 30))
      return { paid: true }
    })
    const keys = Array.from({ length: 30 }, (_, index) => `spread-${index}`)
    await Promise.all(keys.map(async (key) => await app.inject({ method: 'POST', url: '/pay', headers: { 'idempotency-key': key }, payload: {} })))
    const slotsUsed = new Set(await Promise.all(keys.map(async (key) => {
      const slot = await cluster().cluster('KEYSLOT', store.redisKey(key))
      return Math.floor(Number(slot) / 5462)
    })))
    expect(slotsUsed.size).toBeGreaterThan(1)
    runs.mockClear()
    const responses = await Promise.all(Array.from({ length: 200 }, async () => await app.inject({ method: 'POST', url: '/pay', headers: { 'idempotency-key': 'cluster-burst' }, payload: {} })))
    expect(runs).toHaveBeenCalledTimes(1)
    expect(responses.every((res) => res.statusCode === 200 || res.statusCode === 409)).toBe(true)
    await app.close()
  })

  it('warns at startup when the cluster\'s nodes may evict keys, as the node INFO went to says', async () => {
    // Set on every master: the check asks one node, whichever ioredis sends it to.
    const masters = cluster().nodes('master')
    expect(masters).toHaveLength(3)
    await Promise.all(masters.map(async (node) => await node.config('SET', 'maxmemory-policy', 'volatile-lru')))
    try {
      const { app, logs } = createTestApp()
      await app.register(resilience, { loadShedding: false, idempotency: { store: new RedisIdempotencyStore({ client: cluster(), prefix: 'cluster-policy:' }), unscoped: true } })
      await app.ready()
      const warnings = logs.filter((line) => line.level === LOG_LEVEL.warn && line.msg.includes('maxmemory-policy'))
      expect(warnings.map((line) => line.maxmemoryPolicy)).toEqual(['volatile-lru'])
      await app.close()
    } finally {
      await Promise.all(masters.map(async (node) => await node.config('SET', 'maxmemory-policy', 'noeviction')))
    }
  })
})
