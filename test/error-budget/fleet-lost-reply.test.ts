import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { RedisErrorBudgetFleet } from '../../plugins/index.js'
import type { TestApp } from '../helpers/app.js'
import { startCuttingProxy } from '../helpers/cutting-proxy.js'
import type { CutPoint, CuttingProxy } from '../helpers/cutting-proxy.js'
import { startRedisServer } from '../helpers/redis-server.js'
import { waitFor } from '../helpers/wait-for.js'
import { budgetApp } from './helpers.js'

const PAYMENTS = { name: 'payments', availability: 0.99 }

/** The client options these tests vary; the rest are ioredis' defaults, as an application has them. */
type ClientOptions = Pick<RedisOptions, 'autoResendUnfulfilledCommands' | 'maxRetriesPerRequest'>

/**
 * Fails the command the connection loses instead of sending it again after
 * reconnecting, so the flush sees the failure. The retry limit of 0 makes
 * ioredis reject it; with its default limit it drops the command unsettled.
 */
const NO_RESEND: ClientOptions = { autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0 }

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Instance {
  app: TestApp['app']
  client: Redis
  prefix: string
}

/** An instance whose fleet flushes only when the test asks, through `redisUrl`. */
async function instance (redisUrl: string, clientOptions: ClientOptions, now = (): number => Date.now()): Promise<Instance> {
  const client = new Redis(redisUrl, clientOptions)
  client.on('error', () => {})
  cleanups.push(() => { client.disconnect() })
  await once(client, 'ready')
  const prefix = `test:${process.pid}:lost:${randomUUID()}:`
  const { app } = await budgetApp({ fleet: new RedisErrorBudgetFleet({ client, prefix, flushIntervalMs: 3_600_000, clock: { now } }) })
  app.get('/pay/:outcome', { config: { slo: PAYMENTS } }, async (request) => {
    if ((request.params as { outcome: string }).outcome === 'fail') throw new Error('declined upstream')
    return {}
  })
  await app.ready()
  cleanups.push(async () => { await app.close() })
  return { app, client, prefix }
}

async function throughProxy (clientOptions: ClientOptions, redisUrl = inject('redisUrl')): Promise<Instance & { proxy: CuttingProxy }> {
  const proxy = await startCuttingProxy(redisUrl)
  cleanups.push(proxy.close)
  return { ...await instance(proxy.url, clientOptions), proxy }
}

async function send (app: Instance['app'], ok: number, failed: number): Promise<void> {
  for (let i = 0; i < ok; i++) await app.inject('/pay/ok')
  for (let i = 0; i < failed; i++) await app.inject('/pay/fail')
}

/** What Redis holds in the indicator's minute buckets, read straight from it rather than through the fleet. */
async function stored (prefix: string, redisUrl = inject('redisUrl')): Promise<{ total: number, bad: number }> {
  const redis = new Redis(redisUrl)
  try {
    let total = 0
    let bad = 0
    for (const key of await redis.keys(`${prefix}*:m:*`)) {
      const [t, b] = await redis.hmget(key, 't', 'b')
      total += Number(t ?? 0)
      bad += Number(b ?? 0)
    }
    return { total, bad }
  } finally {
    redis.disconnect()
  }
}

/** How many times Redis ran each command, scripts' own calls included (INFO commandstats). */
async function commandCalls (client: Redis): Promise<Record<'evalsha' | 'hincrby' | 'set', number>> {
  const info = await client.info('commandstats')
  const calls = (name: string): number => Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0)
  return { evalsha: calls('evalsha'), hincrby: calls('hincrby'), set: calls('set') }
}

async function expectFleetToMatchLocal (app: Instance['app'], events: { total: number, good: number, bad: number }): Promise<void> {
  expect(app.errorBudget.status()[0]?.events).toEqual(events)
  const fleet = await app.errorBudget.fleetStatus()
  expect(fleet.scope).toBe('fleet')
  expect(fleet.slos[0]?.events).toEqual(events)
}

describe('error budget fleet: a flush whose reply is lost', () => {
  it('counts once what ioredis sends again after reconnecting (its default client)', async () => {
    const { app, proxy, prefix } = await throughProxy({})
    await send(app, 20, 100)
    const cut = proxy.cutNext('after-execution')
    const flushed = app.errorBudget.flushFleet()
    await cut
    expect(await stored(prefix)).toEqual({ total: 120, bad: 100 })
    // ioredis sent the script again on a new connection and was answered.
    await flushed
    expect(proxy.connections).toBe(2)
    await expectFleetToMatchLocal(app, { total: 120, good: 20, bad: 100 })
  })

  it('counts once what the next flush sends again after this one failed (autoResendUnfulfilledCommands: false)', async () => {
    const { app, client, proxy, prefix } = await throughProxy(NO_RESEND)
    await send(app, 20, 100)
    const cut = proxy.cutNext('after-execution')
    await expect(app.errorBudget.flushFleet()).rejects.toThrow()
    await cut
    expect(await stored(prefix)).toEqual({ total: 120, bad: 100 })
    await waitFor(() => client.status === 'ready')
    await app.errorBudget.flushFleet()
    await expectFleetToMatchLocal(app, { total: 120, good: 20, bad: 100 })
  })

  it.each<[CutPoint, { total: number, bad: number }]>([
    ['after-execution', { total: 20, bad: 15 }],
    ['before-execution', { total: 0, bad: 0 }],
  ])('sends again, once, a flush whose answer ioredis never gives (autoResendUnfulfilledCommands: false, reconnecting; cut %s)', async (point, storedAfterCut) => {
    // With no retry limit, ioredis 6 drops the command from its queues when
    // it reconnects, without settling its promise: that flush neither
    // succeeds nor fails, and the next one has to send its counts.
    const { app, client, proxy, prefix } = await throughProxy({ autoResendUnfulfilledCommands: false })
    await send(app, 5, 15)
    const cut = proxy.cutNext(point)
    app.errorBudget.flushFleet().catch(() => {})
    await cut
    await waitFor(() => client.status === 'ready')
    expect(await stored(prefix)).toEqual(storedAfterCut)
    await app.errorBudget.flushFleet()
    await expectFleetToMatchLocal(app, { total: 20, good: 5, bad: 15 })
  })

  it('changes nothing when a flush Redis has applied is sent again', async () => {
    // A server of its own, so that its command statistics are this test's.
    const server = await startRedisServer()
    cleanups.push(server.stop)
    const { app, client, proxy, prefix } = await throughProxy(NO_RESEND, server.url)
    await send(app, 10, 5)
    const cut = proxy.cutNext('after-execution')
    await expect(app.errorBudget.flushFleet()).rejects.toThrow()
    await cut
    expect(await stored(prefix, server.url)).toEqual({ total: 15, bad: 5 })
    await waitFor(() => client.status === 'ready')
    const before = await commandCalls(client)
    await app.errorBudget.flushFleet()
    const after = await commandCalls(client)
    // Redis ran the script once more (the script is loaded by now, so by its
    // hash), and the script wrote nothing.
    expect(after.evalsha - before.evalsha).toBe(1)
    expect(after.hincrby).toBe(before.hincrby)
    expect(after.set).toBe(before.set)
    expect(await stored(prefix, server.url)).toEqual({ total: 15, bad: 5 })
  })

  it.each<[CutPoint, { total: number, bad: number }]>([
    ['after-execution', { total: 20, bad: 10 }],
    ['before-execution', { total: 0, bad: 0 }],
  ])('counts once the events noted after a failed flush, and that flush\'s (cut %s)', async (point, storedAfterCut) => {
    const { app, client, proxy, prefix } = await throughProxy(NO_RESEND)
    await send(app, 10, 10)
    const cut = proxy.cutNext(point)
    await expect(app.errorBudget.flushFleet()).rejects.toThrow()
    await cut
    expect(await stored(prefix)).toEqual(storedAfterCut)
    // Noted while the failed flush waits to be sent again: they must go
    // neither into it nor nowhere.
    await send(app, 7, 3)
    await waitFor(() => client.status === 'ready')
    await app.errorBudget.flushFleet()
    expect(await stored(prefix)).toEqual({ total: 30, bad: 13 })
    await expectFleetToMatchLocal(app, { total: 30, good: 17, bad: 13 })
  })

  it('counts once when a flush starts while the one before it still waits for its lost reply', async () => {
    const { app, proxy } = await throughProxy({})
    await send(app, 10, 10)
    const cut = proxy.cutNext('after-execution')
    const first = app.errorBudget.flushFleet()
    await cut
    await send(app, 4, 6)
    await Promise.all([first, app.errorBudget.flushFleet()])
    await expectFleetToMatchLocal(app, { total: 30, good: 14, bad: 16 })
  })
})

describe('error budget fleet: its flush script', () => {
  it('loads the script again when Redis has forgotten it', async () => {
    // A server of its own: SCRIPT FLUSH on the shared one would reach other files' scripts.
    const server = await startRedisServer()
    cleanups.push(server.stop)
    const { app, client } = await instance(server.url, {})
    await send(app, 3, 1)
    await app.errorBudget.flushFleet()
    await client.script('FLUSH')
    await send(app, 2, 2)
    await app.errorBudget.flushFleet()
    await expectFleetToMatchLocal(app, { total: 8, good: 5, bad: 3 })
  })

  it('writes nothing, and keeps the flush for the next, when a bucket holds a count that is not an integer', async () => {
    // One instant, so that every event falls in the hour the test spoils.
    const now = Date.now()
    const { app, client, prefix } = await instance(inject('redisUrl'), {}, () => now)
    await send(app, 4, 0)
    const hour = Math.floor(now / 3_600_000)
    const hourKey = `${prefix}{payments:availability}:h:${hour}`
    await client.hset(hourKey, 't', 'many')
    await expect(app.errorBudget.flushFleet()).rejects.toThrow(/holds a count that is not an integer/)
    expect(await stored(prefix)).toEqual({ total: 0, bad: 0 })
    await client.del(hourKey)
    await app.errorBudget.flushFleet()
    expect(await stored(prefix)).toEqual({ total: 4, bad: 0 })
    expect(Number(await client.hget(hourKey, 't'))).toBe(4)
  })
})
