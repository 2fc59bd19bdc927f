import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { once } from 'node:events'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { RedisErrorBudgetFleet, resilience } from '../../plugins/index.js'
import type { StatusSnapshot } from '../../plugins/index.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { isOps, readEvents } from './helpers.js'

const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function instance (url: string, prefix: string): Promise<{ app: FastifyInstance, base: string }> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null })
  client.on('error', () => {})
  closers.push(async () => { client.disconnect() })
  await once(client, 'ready')
  const app = Fastify()
  closers.push(async () => await app.close())
  await app.register(resilience, {
    errorBudget: { fleet: new RedisErrorBudgetFleet({ client, prefix }) },
    statusPage: { authorize: isOps, intervalMs: 250 },
  })
  app.get('/pay', { config: { slo: { name: 'payments', availability: 0.99 } } }, async () => ({}))
  return { app, base: await app.listen({ port: 0, host: '127.0.0.1' }) }
}

const slosOf = (data: string): StatusSnapshot['slos'] => (JSON.parse(data) as { snapshot: StatusSnapshot }).snapshot.slos

describe('status page: the fleet view', () => {
  it('shows SLOs summed over the instances sharing the fleet store, and says so', { timeout: 40_000 }, async () => {
    const prefix = `test:${process.pid}:${Date.now()}:status:`
    const [first, second] = await Promise.all([instance(inject('redisUrl'), prefix), instance(inject('redisUrl'), prefix)])
    if (first === undefined || second === undefined) throw new Error('no instances')
    for (let index = 0; index < 3; index++) await first.app.inject('/pay')
    for (let index = 0; index < 2; index++) await second.app.inject('/pay')
    await first.app.errorBudget.flushFleet()
    // The fleet store is read at most every 5 s: the wait covers two reads.
    const stream = await readEvents(`${second.base}/resilience/events`, { cookie: 'role=ops' }, (events) => events.some((event) => event.event === 'snapshot' && slosOf(event.data)?.items[0]?.events === 5))
    const last = slosOf(stream.events.at(-1)?.data ?? '{}')
    expect(last).toMatchObject({ scope: 'fleet', reason: null, items: [{ name: 'payments', events: 5 }] })
  })

  it('falls back to this instance\'s SLOs when the fleet store fails, says why, and shows no address', { timeout: 40_000 }, async () => {
    const server = await startRedisServer()
    closers.push(async () => { await server.stop() })
    const { app, base } = await instance(server.url, `test:${process.pid}:status-down:`)
    await app.inject('/pay')
    await server.stop()
    await app.inject('/pay')
    const stream = await readEvents(`${base}/resilience/events`, { cookie: 'role=ops' }, (events) => events.some((event) => event.event === 'snapshot' && slosOf(event.data)?.reason === 'fleet-store-unavailable'))
    expect(slosOf(stream.events.at(-1)?.data ?? '{}')).toMatchObject({ scope: 'local', reason: 'fleet-store-unavailable', items: [{ name: 'payments', events: 2 }] })
    expect(stream.raw).not.toContain(new URL(server.url).host)
    expect(stream.raw).not.toMatch(/ECONNREFUSED|Connection is closed|fleet store failed/)
  })
})
