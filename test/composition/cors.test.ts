import cors from '@fastify/cors'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'

/*
 * CORS preflights next to @fastify/cors, registered after the umbrella
 * (its OPTIONS * route then passes through the library's onRoute hooks)
 * and before it, with either of its hooks: a preflight is answered with
 * its CORS headers while the server sheds and while chaos faults every
 * request, and no SLO counts it, whatever the order.
 */

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close() })

const ORIGIN = 'https://shop.example'

describe.each([
  ['after', 'onRequest'],
  ['after', 'preHandler'],
  ['before', 'preHandler'],
] as const)('@fastify/cors registered %s the library, hook %s', (order, hook) => {
  it('answers preflights with their CORS headers while the only slot is busy and chaos faults every route; no SLO counts them', async () => {
    app = Fastify()
    const corsPlugin = async (): Promise<void> => { await app?.register(cors, { origin: ORIGIN, hook }) }
    if (order === 'before') await corsPlugin()
    await app.register(resilience, {
      errorBudget: { objectives: [{ name: 'api', availability: 0.99 }], defaultObjective: 'api' },
      loadShedding: { limit: 1, maxQueue: 0 },
      chaos: { enabled: true, experiments: [{ name: 'everything', faults: [{ type: 'error', rate: 1, status: 503 }] }] },
    })
    if (order === 'after') await corsPlugin()
    const release = deferred()
    const entered = deferred()
    app.get('/slow', { config: { chaos: false } }, async () => {
      entered.resolve()
      await release.promise
      return 'done'
    })
    app.post('/orders', async () => ({ ok: true }))
    const url = `http://127.0.0.1:${await listen(app)}`
    const preflight = async (): Promise<{ status: number, allowOrigin: unknown }> => {
      const response = await request(`${url}/orders`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } })
      await response.body.dump()
      return { status: response.statusCode, allowOrigin: response.headers['access-control-allow-origin'] }
    }

    expect(await preflight()).toEqual({ status: 204, allowOrigin: ORIGIN })
    const slow = request(`${url}/slow`)
    await entered.promise
    expect(await preflight()).toEqual({ status: 204, allowOrigin: ORIGIN })
    // The slot is taken: the application's own requests are shed meanwhile.
    expect((await request(`${url}/orders`, { method: 'POST' })).statusCode).toBe(503)
    release.resolve()
    await (await slow).body.dump()

    expect(app.loadShedding.stats().shed.total).toBe(1)
    // The GET and the shed POST; neither preflight.
    expect(app.errorBudget.status()[0]?.events.total).toBe(2)
  })
})

describe('an OPTIONS route whose config asks for the library', () => {
  it('gets what it asks for: counted under its SLO', async () => {
    app = Fastify()
    await app.register(resilience, { errorBudget: { objectives: [{ name: 'api', availability: 0.99 }], defaultObjective: 'api' } })
    app.options('/described', { config: { slo: 'api' } }, async () => 'GET, POST')
    app.options('/plain', async () => 'GET')
    await app.inject({ method: 'OPTIONS', url: '/described' })
    await app.inject({ method: 'OPTIONS', url: '/plain' })
    expect(app.errorBudget.status()[0]?.events.total).toBe(1)
  })
})
