import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'

/*
 * A standing line through the plugin, with undici as the client and a
 * Fastify app as users create it (no logger): a request joining a line
 * that has not emptied for maxQueueWaitMs waits a tenth of it.
 */

let app: FastifyInstance | undefined
// Frees the held slot even when an assertion failed, so that close does not wait on it.
let release = (): void => {}
afterEach(async () => {
  release()
  await app?.close()
})

const MAX_QUEUE_WAIT_MS = 1000

describe('load shedding: a standing line', () => {
  it('refuses a newcomer after a tenth of maxQueueWaitMs while earlier waiters keep their full wait', async () => {
    const gate = deferred()
    release = () => { gate.resolve() }
    app = Fastify()
    await app.register(resilience, {
      deadlines: false,
      idempotency: false,
      loadShedding: { limit: 1, maxQueue: 10, maxQueueWaitMs: MAX_QUEUE_WAIT_MS, criticalReserve: 0, loopLag: false, pressure: false },
    })
    app.get('/work', async () => { await gate.promise; return { done: true } })
    const port = await listen(app)
    const shedding = app.loadShedding
    const get = async (): Promise<{ status: number, reason: unknown }> => {
      const response = await request(`http://127.0.0.1:${port}/work`)
      const body = await response.body.json() as { reason?: unknown }
      return { status: response.statusCode, reason: body.reason }
    }
    const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

    const holder = get()
    await waitFor(() => shedding.stats().inFlight === 1)
    // Three waiters 400 ms apart keep the line occupied for 1.8 s.
    const waiters = [get()]
    await waitFor(() => shedding.stats().queued === 1)
    await sleep(400)
    waiters.push(get())
    await waitFor(() => shedding.stats().queued === 2)
    await sleep(400)
    waiters.push(get())
    await waitFor(() => shedding.stats().queued === 3)
    // The line has not emptied for over maxQueueWaitMs.
    await sleep(300)
    const newcomer = await get()
    expect(newcomer).toEqual({ status: 503, reason: 'queue-timeout' })
    // The last earlier waiter, queued with the full wait, is still in line:
    // with a full wait of its own the newcomer would have outlasted it.
    expect(shedding.stats().queued).toBeGreaterThanOrEqual(1)
    gate.resolve()
    expect((await holder).status).toBe(200)
    await Promise.all(waiters)
  })
})
