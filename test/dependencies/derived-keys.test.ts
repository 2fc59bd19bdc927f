import got from 'got'
import { describe, expect, it } from 'vitest'
import { listen } from '../helpers/listen.js'
import { closedAfterEach } from './helpers.js'
import type { Behaviour } from './helpers.js'

const { serve, appWith } = closedAfterEach()

/**
 * A payment provider that charges once per idempotency key, as Stripe
 * does: a key seen before gets the first answer again. Its first charge
 * answers late (after `lateMs`), as a provider under load does, though
 * the charge is made at once.
 */
function provider (lateMs: number): { behaviour: Behaviour, charges: Map<string, string>, keys: string[] } {
  const charges = new Map<string, string>()
  const keys: string[] = []
  const behaviour: Behaviour = (request, response) => {
    const key = String(request.headers['idempotency-key'])
    keys.push(key)
    let id = charges.get(key)
    if (id === undefined) {
      id = `ch_${charges.size + 1}`
      charges.set(key, id)
    }
    const answer = JSON.stringify({ id })
    if (id === 'ch_1' && keys.length === 1) {
      const timer = setTimeout(() => { response.writeHead(200, { 'content-type': 'application/json' }).end(answer) }, lateMs)
      response.on('close', () => { clearTimeout(timer) })
    } else {
      response.writeHead(200, { 'content-type': 'application/json' }).end(answer)
    }
  }
  return { behaviour, charges, keys }
}

describe('idempotency keys of calls made for a request that holds one', () => {
  it('a client retrying after a dependency timeout reaches the provider with the same key, so it charges once (got, retrying POST on 504)', async () => {
    const payments = provider(2000)
    const server = await serve(payments.behaviour)
    const { app } = await appWith({
      idempotency: { unscoped: true },
      dependencies: { payments: { baseUrl: server.url, timeoutMs: 300, idempotencyKeys: true, breaker: false, retry: { attempts: 1 } } },
    })
    let runs = 0
    app.post('/orders', { config: { idempotency: { required: true } } }, async (request) => {
      runs++
      const charge = await request.dependency('payments').fetch('/charges', { method: 'POST', body: '{"amount":500}', headers: { 'content-type': 'application/json' } })
      return { charge: await charge.json() }
    })
    const port = await listen(app)
    const answer = await got.post(`http://127.0.0.1:${port}/orders`, {
      json: { sku: 7 },
      headers: { 'idempotency-key': 'order-123' },
      retry: { limit: 3, methods: ['POST'], statusCodes: [504], backoffLimit: 50 },
    }).json<{ charge: { id: string } }>()
    // The first run timed out waiting for the provider (504, key released); the retry ran again.
    expect(runs).toBeGreaterThanOrEqual(2)
    expect(payments.keys).toHaveLength(runs)
    expect(new Set(payments.keys).size).toBe(1)
    expect(payments.charges.size).toBe(1)
    expect(answer).toEqual({ charge: { id: 'ch_1' } })
  })

  it('calls of one request get keys of their own, and another key, another caller or no key gives other ones', async () => {
    const payments = provider(0)
    const server = await serve(payments.behaviour)
    const { app } = await appWith({
      idempotency: { scope: (request) => String(request.headers['x-account']) },
      dependencies: { payments: { baseUrl: server.url, idempotencyKeys: true } },
    })
    app.post('/split', { config: { idempotency: {} } }, async (request) => {
      const payment = request.dependency('payments')
      await payment.fetch('/charges', { method: 'POST', body: '1' })
      await payment.fetch('/charges', { method: 'POST', body: '2' })
      await payment.fetch('/refunds', { method: 'POST', body: '3' })
      await payment.call(async (_signal, headers) => { payments.keys.push(String(headers['idempotency-key'])) })
      return 'ok'
    })
    const send = async (account: string, key?: string): Promise<string[]> => {
      const before = payments.keys.length
      const res = await app.inject({ method: 'POST', url: '/split', headers: { 'content-type': 'application/json', 'x-account': account, ...(key === undefined ? {} : { 'idempotency-key': key }) }, payload: '{}' })
      expect(res.statusCode).toBe(200)
      return payments.keys.slice(before)
    }
    const first = await send('acct_1', 'k1')
    expect(first).toHaveLength(4)
    expect(new Set(first).size).toBe(4)
    const otherKey = await send('acct_1', 'k2')
    const otherCaller = await send('acct_2', 'k1')
    const noKey = await send('acct_1')
    const noKeyAgain = await send('acct_1')
    for (const keys of [otherKey, otherCaller, noKey, noKeyAgain]) for (const key of keys) expect(first).not.toContain(key)
    expect(noKey.filter((key) => noKeyAgain.includes(key))).toEqual([])
  })
})
