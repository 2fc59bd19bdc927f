import { Redis } from 'ioredis'
import { afterAll, describe, expect, inject, it } from 'vitest'

describe('redis test server', () => {
  const client = new Redis(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 1 })
  afterAll(async () => { await client.quit() })

  it('answers a ping from the server the test setup provides', async () => {
    await client.connect()
    expect(await client.ping()).toBe('PONG')
  })
})
