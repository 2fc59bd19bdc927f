import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { startRedisServer } from '../helpers/redis-server.js'

describe('throwaway redis-server', () => {
  it('starts on a free port with persistence off and stops on request', async () => {
    const server = await startRedisServer()
    const client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null })
    try {
      expect(await client.config('GET', 'save')).toEqual(['save', ''])
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no'])
    } finally {
      client.disconnect()
      await server.stop()
    }
    const probe = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    const refused = new Promise<Error>((resolve) => probe.once('error', resolve))
    await expect(probe.connect()).rejects.toThrow()
    expect((await refused).message).toMatch(/ECONNREFUSED/)
    probe.disconnect()
  })
})
