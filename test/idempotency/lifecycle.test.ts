import type { Socket } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import resilience, { MemoryIdempotencyStore } from '../../plugins/index.js'
import type { IdempotencyStore } from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { listen } from '../helpers/listen.js'
import { deferred } from '../helpers/deferred.js'
import { waitFor } from '../helpers/wait-for.js'
import { ManualClock } from '../helpers/manual-clock.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A memory store with some of its methods replaced, to play a slow or broken store. */
function storeWith (overrides: (memory: MemoryIdempotencyStore) => Partial<IdempotencyStore>): IdempotencyStore {
  const memory = new MemoryIdempotencyStore()
  return {
    claim: async (...args) => await memory.claim(...args),
    renew: async (...args) => await memory.renew(...args),
    complete: async (...args) => await memory.complete(...args),
    release: async (...args) => await memory.release(...args),
    ...overrides(memory),
  }
}

function post (app: TestApp['app'], url: string, key = 'k'): Promise<{ statusCode: number, body: string, headers: Record<string, unknown> }> {
  return app.inject({ method: 'POST', url, headers: { 'idempotency-key': key }, payload: { a: 1 } })
}

describe('idempotency lifecycle regressions', () => {
  it('a handler that throws synchronously releases its key', async () => {
    current = createTestApp()
    const runs = vi.fn()
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true } })
    current.app.post('/sync', { config: { idempotency: {} } }, function () {
      runs()
      throw new Error('sync failure')
    })
    expect((await post(current.app, '/sync')).statusCode).toBe(500)
    expect((await post(current.app, '/sync')).statusCode).toBe(500)
    expect(runs).toHaveBeenCalledTimes(2)
  })

  it('a key claimed after its client left is released, not held forever', async () => {
    current = createTestApp()
    // A store that answers the claim only once the client has gone.
    const claimAsked = deferred()
    const answerClaim = deferred()
    const released = vi.fn()
    const slow = storeWith((memory) => ({
      claim: async (...args) => { claimAsked.resolve(); await answerClaim.promise; return await memory.claim(...args) },
      release: async (...args) => { const freed = await memory.release(...args); released(); return freed },
    }))
    const runs = vi.fn()
    let serverSocket: Socket | undefined
    current.app.addHook('onRequest', async (request) => { serverSocket = request.raw.socket })
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, store: slow } })
    current.app.post('/pay', { config: { idempotency: {} } }, async () => { runs(); return 'paid' })
    const port = await listen(current.app)
    const request = (signal?: AbortSignal): Promise<Response> => fetch(`http://127.0.0.1:${port}/pay`, {
      method: 'POST', headers: { 'idempotency-key': 'gone', 'content-type': 'application/json' }, body: '{}', ...(signal === undefined ? {} : { signal }),
    })
    const client = new AbortController()
    const abandoned = request(client.signal).catch(() => undefined)
    await claimAsked.promise
    client.abort()
    await abandoned
    await waitFor(() => serverSocket?.destroyed === true)
    answerClaim.resolve()
    await waitFor(() => released.mock.calls.length === 1)
    const retry = await request()
    expect(retry.status).toBe(200)
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    expect(await retry.text()).toBe('paid')
    expect(runs).toHaveBeenCalledTimes(1)
  })

  it('an answer from another preHandler (a 429, say) is not stored', async () => {
    current = createTestApp()
    const runs = vi.fn()
    let limited = true
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true } })
    current.app.addHook('onRoute', (routeOptions) => {
      const limiter = async (_request: unknown, reply: { code: (status: number) => { send: (body: string) => unknown } }): Promise<unknown> => {
        if (limited) return reply.code(429).send('slow down')
        return undefined
      }
      routeOptions.preHandler = [...[routeOptions.preHandler ?? []].flat(), limiter as never]
    })
    current.app.post('/pay', { config: { idempotency: {} } }, async () => { runs(); return 'paid' })
    expect((await post(current.app, '/pay')).statusCode).toBe(429)
    limited = false
    const retry = await post(current.app, '/pay')
    expect(retry.statusCode).toBe(200)
    expect(retry.headers['idempotent-replayed']).toBeUndefined()
    expect(runs).toHaveBeenCalledTimes(1)
  })

  it('a handler that answers and then throws keeps its answer, for the client and for retries', async () => {
    current = createTestApp()
    // Storing takes a while, so the handler's rejection arrives while the answer is in onSend.
    const slowToStore = storeWith((memory) => ({ complete: async (...args) => { await sleep(50); return await memory.complete(...args) } }))
    await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, store: slowToStore } })
    current.app.post('/pay', { config: { idempotency: {} } }, async (_request, reply) => {
      reply.code(201).send({ paid: true })
      await sleep(5)
      throw new Error('bookkeeping failed afterwards')
    })
    const first = await post(current.app, '/pay')
    const retry = await post(current.app, '/pay')
    expect(first.statusCode).toBe(201)
    expect(retry.statusCode).toBe(201)
    expect(retry.body).toBe(first.body)
  })

  it('a custom store whose renew throws synchronously does not take the process down', async () => {
    current = createTestApp()
    const throwing = storeWith(() => ({ renew: () => { throw new Error('renew exploded') } }))
    const uncaught = vi.fn()
    process.on('uncaughtException', uncaught)
    try {
      // The shortest lease: its first renewal goes a third of a second in.
      await current.app.register(resilience, { loadShedding: false, idempotency: { unscoped: true, store: throwing, leaseMs: 1000 } })
      const { logs } = current
      const renewFailed = (): boolean => logs.some((line) => line.msg === 'idempotency lease could not be renewed')
      current.app.post('/slow', { config: { idempotency: {} } }, async () => { await waitFor(renewFailed); return 'done' })
      expect((await post(current.app, '/slow')).statusCode).toBe(200)
      expect(renewFailed()).toBe(true)
      expect(uncaught).not.toHaveBeenCalled()
    } finally {
      process.off('uncaughtException', uncaught)
    }
  })

  it('a scope that yields no value is a 500 problem, not a shared key space', async () => {
    current = createTestApp()
    const runs = vi.fn()
    await current.app.register(resilience, { loadShedding: false, idempotency: { scope: () => undefined as unknown as string } })
    current.app.post('/pay', { config: { idempotency: {} } }, async () => { runs(); return 'paid' })
    const res = await post(current.app, '/pay')
    expect(res.statusCode).toBe(500)
    expect(runs).not.toHaveBeenCalled()
    expect(current.logs.some((line) => /scope\(request\) expects a non-empty string, instead got 'undefined'/.test(line.err?.message ?? ''))).toBe(true)
  })
})

describe('a lease that runs out while the handler runs, with nobody taking the key', () => {
  it('the answer is still stored, so the retry replays it instead of running the handler again; the lost lease is said once', async () => {
    const clock = new ManualClock()
    current = createTestApp()
    const { app, logs } = current
    // Renewals every 333 ms; the store's own clock lets the lease run out between two of them.
    await app.register(resilience, { loadShedding: false, deadlines: false, idempotency: { unscoped: true, leaseMs: 1000, store: new MemoryIdempotencyStore({ clock }) } })
    const lost = (): number => logs.filter((line) => line.msg.startsWith('idempotency lease lost')).length
    let runs = 0
    app.post('/charges', { config: { idempotency: {} } }, async () => {
      runs++
      clock.advance(5_000)
      await waitFor(() => lost() > 0)
      // Past the next renewal, which must not say it again.
      await sleep(400)
      return { charged: runs }
    })
    const first = await post(app, '/charges', 'cut-off')
    expect(first.statusCode).toBe(200)
    const retry = await post(app, '/charges', 'cut-off')
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.body).toBe(first.body)
    expect(runs).toBe(1)
    expect(lost()).toBe(1)
  })

  it('renewals sent while the store was slow, coming back lost together, say so once', async () => {
    current = createTestApp()
    const { app, logs } = current
    const answers = deferred<boolean>()
    let renewals = 0
    // A store that holds every renewal until the test answers them all: a Redis paused for writes.
    class SlowStore extends MemoryIdempotencyStore {
      override async renew (): Promise<boolean> {
        renewals++
        return await answers.promise
      }
    }
    await app.register(resilience, { loadShedding: false, deadlines: false, idempotency: { unscoped: true, leaseMs: 1000, storeTimeoutMs: 10_000, store: new SlowStore() } })
    const lost = (): number => logs.filter((line) => line.msg.startsWith('idempotency lease lost')).length
    const finish = deferred()
    app.post('/charges', { config: { idempotency: {} } }, async () => { await finish.promise; return { charged: true } })
    const first = post(app, '/charges', 'paused')
    await waitFor(() => renewals >= 3)
    answers.resolve(false)
    await waitFor(() => lost() > 0)
    finish.resolve()
    expect((await first).statusCode).toBe(200)
    expect(lost()).toBe(1)
  })
})
