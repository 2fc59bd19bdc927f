import { Redis } from 'ioredis'
import type { Cluster } from 'ioredis'
import { describe, expect, inject, it } from 'vitest'
import { RedisErrorBudgetFleet } from '../../plugins/index.js'
import type { TestApp } from '../helpers/app.js'
import { useRedisCluster } from '../helpers/redis-cluster.js'
import { budgetApp } from './helpers.js'

const cluster = useRedisCluster()

async function shop (fleetClient: Redis | Cluster, prefix: string): Promise<TestApp> {
  const testApp = await budgetApp({ fleet: new RedisErrorBudgetFleet({ client: fleetClient, prefix }) })
  for (const name of ['api', 'search', 'checkout', 'orders']) {
    testApp.app.get(`/${name}/:outcome`, { config: { slo: { name, availability: 0.99 } } }, async (request) => {
      if ((request.params as { outcome: string }).outcome === 'fail') throw new Error('failed')
      return {}
    })
  }
  await testApp.app.ready()
  return testApp
}

describe('error budget fleet on Redis Cluster', () => {
  it('flushes and reads SLOs whose keys live on different masters', async () => {
    const { app } = await shop(cluster(), `test:${process.pid}:`)
    try {
      for (const name of ['api', 'search', 'checkout', 'orders']) {
        await app.inject(`/${name}/ok`)
        await app.inject(`/${name}/fail`)
      }
      const fleet = await app.errorBudget.fleetStatus()
      expect(fleet.scope).toBe('fleet')
      expect(fleet.slos.map((status) => [status.name, status.events.total, status.events.bad])).toEqual([
        ['api', 2, 1], ['search', 2, 1], ['checkout', 2, 1], ['orders', 2, 1],
      ])
    } finally {
      await app.close()
    }
  })
})

describe('error budget fleet when some writes fail', () => {
  it('sends an increment that failed again, and never one that succeeded', async () => {
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 })
    const prefix = `test:${process.pid}:partial:`
    // The hour bucket is a plain string: its HINCRBYs fail, the minute's succeed.
    const hour = Math.floor(Date.now() / 3_600_000)
    await redis.set(`${prefix}{api:availability}:h:${hour}`, 'not a hash')
    const { app } = await shop(redis, prefix)
    try {
      for (let i = 0; i < 10; i++) await app.inject('/api/ok')
      await expect(app.errorBudget.flushFleet()).rejects.toThrow(/WRONGTYPE/)
      await redis.del(`${prefix}{api:availability}:h:${hour}`)
      await app.errorBudget.flushFleet()
      const minute = Math.floor(Date.now() / 60_000)
      const minuteTotals = await Promise.all([minute, minute - 1].map(async (bucket) => Number(await redis.hget(`${prefix}{api:availability}:m:${bucket}`, 't') ?? 0)))
      expect(minuteTotals.reduce((sum, value) => sum + value, 0)).toBe(10)
      expect(Number(await redis.hget(`${prefix}{api:availability}:h:${hour}`, 't'))).toBe(10)
    } finally {
      await app.close()
      redis.disconnect()
    }
  })
})
