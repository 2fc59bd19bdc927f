import got from 'got'
import { Agent, RetryAgent, request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import type { Deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { waitFor } from '../helpers/wait-for.js'
import { sheddingApp } from './helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

/** What the server saw of a client that was shed once and came back. */
interface Attempts {
  url: string
  /** performance.now() of each request's arrival at the route, in order. */
  arrivals: number[]
  /** The Retry-After of each shed answer. */
  advised: string[]
  /** Frees the slot held by the slow request. */
  gate: Deferred<void>
  /** The slow request's status. */
  slow: Promise<number>
}

async function statusOf (url: string): Promise<number> {
  const response = await request(url)
  await response.body.dump()
  return response.statusCode
}

/**
 * A bulkhead route with one slot, after a quiet period (a request every
 * 2 s, each holding the slot for 150 ms on the app's clock), whose slot is
 * now held by a slow request. The slow request finishes as soon as the
 * server has shed someone, so a client that honours Retry-After finds the
 * slot free when it comes back.
 */
async function quietRouteWithItsSlotHeld (): Promise<Attempts> {
  const clock = new ManualClock()
  // Jitter at its top: the advice is the longest this setup can produce.
  current = await sheddingApp({ loopLag: false, pressure: false, clock, random: () => 0.999 })
  const { app } = current
  const arrivals: number[] = []
  const advised: string[] = []
  const gate = deferred()
  let holding = false
  app.addHook('onRequest', async () => { arrivals.push(performance.now()) })
  app.addHook('onResponse', async (_request, reply) => {
    if (reply.statusCode !== 503) return
    advised.push(String(reply.getHeader('retry-after')))
    gate.resolve()
  })
  app.get('/report', { config: { shedding: { maxConcurrent: 1 } } }, async () => {
    clock.advance(150)
    if (holding) await gate.promise
    return { ok: true }
  })
  const url = `http://127.0.0.1:${await listen(app)}/report`
  for (let i = 0; i < 10; i++) {
    expect(await statusOf(url)).toBe(200)
    clock.advance(1850)
  }
  holding = true
  arrivals.length = 0
  const slow = statusOf(url)
  await waitFor(() => app.loadShedding.stats().bulkheads['GET /report']?.inFlight === 1)
  return { url, arrivals, advised, gate, slow }
}

/** The wait between the client's refused attempt and its retry, as the server saw them. */
function retryWaitMs ({ arrivals }: Attempts): number {
  expect(arrivals).toHaveLength(3)
  return (arrivals[2] as number) - (arrivals[1] as number)
}

// Generous: two loopback requests on a busy machine, on top of the advised wait.
const SLACK_MS = 5000

describe('load shedding: clients that honour Retry-After', () => {
  it('got waits the advised seconds after a quiet period and its retry succeeds', async () => {
    const attempts = await quietRouteWithItsSlotHeld()
    const startedAt = performance.now()
    // A client willing to wait up to 10 s; advice beyond that makes got give up with the 503.
    const response = await got(attempts.url, {
      retry: { limit: 1, methods: ['GET'], statusCodes: [503], maxRetryAfter: 10_000 },
    }).json<{ ok: boolean }>()
    const elapsedMs = performance.now() - startedAt
    expect(response).toEqual({ ok: true })
    expect(await attempts.slow).toBe(200)
    // Shed once, told 2 s (the slot frees within 150 ms, a wait raised to the
    // 1 s Retry-After can say and spread to 2 s by jitter at its top), retried after it.
    expect(attempts.advised).toEqual(['2'])
    const advisedMs = 2000
    expect(retryWaitMs(attempts)).toBeGreaterThanOrEqual(advisedMs - 50)
    // Bounded by the advice, not by machine speed. Advice drawn from the
    // quiet period's completion rate would reach the 30 s cap here.
    expect(elapsedMs).toBeLessThan(advisedMs + SLACK_MS)
  })

  it('undici RetryAgent waits the advised seconds after a quiet period and its retry succeeds', async () => {
    const attempts = await quietRouteWithItsSlotHeld()
    // RetryAgent waits for Retry-After, at most maxTimeout.
    const agent = new RetryAgent(new Agent(), { maxRetries: 1, methods: ['GET'], statusCodes: [503], maxTimeout: 10_000 })
    try {
      const startedAt = performance.now()
      const response = await request(attempts.url, { dispatcher: agent })
      const body = await response.body.json()
      const elapsedMs = performance.now() - startedAt
      expect(response.statusCode).toBe(200)
      expect(body).toEqual({ ok: true })
      expect(await attempts.slow).toBe(200)
      expect(attempts.advised).toEqual(['2'])
      expect(retryWaitMs(attempts)).toBeGreaterThanOrEqual(2000 - 50)
      expect(elapsedMs).toBeLessThan(2000 + SLACK_MS)
    } finally {
      await agent.close()
    }
  })

  it('got clients refused together in a burst are told different seconds, and each comes back after its own', async () => {
    // The plugin's own random source; no request has finished yet, so every
    // refusal starts from the 1 s fallback.
    current = await sheddingApp({ loopLag: false, pressure: false, limit: 4, maxQueue: 0 })
    const { app } = current
    const clients = 24
    const arrivals = new Map<string, number[]>()
    const advised = new Map<string, number>()
    const gate = deferred()
    app.addHook('onRequest', async (request) => {
      const client = String(request.headers['x-client'])
      arrivals.set(client, [...(arrivals.get(client) ?? []), performance.now()])
    })
    app.addHook('onResponse', async (request, reply) => {
      const client = String(request.headers['x-client'])
      if (reply.statusCode === 503 && !advised.has(client)) advised.set(client, Number(reply.getHeader('retry-after')))
      // The burst's four admitted requests hold their slots until the rest are refused.
      if (advised.size === clients - 4) gate.resolve()
    })
    app.get('/work', async () => { await gate.promise; return { ok: true } })
    const url = `http://127.0.0.1:${await listen(app)}/work`
    // Up to three retries: clients told the same second may meet again on their return.
    const responses = await Promise.all(Array.from({ length: clients }, async (_, client) =>
      await got(url, { headers: { 'x-client': String(client) }, retry: { limit: 3, methods: ['GET'], statusCodes: [503], maxRetryAfter: 10_000 } }).json<{ ok: boolean }>()))
    for (const response of responses) expect(response).toEqual({ ok: true })
    expect(advised.size).toBe(clients - 4)
    // A burst refused together is not sent back together.
    expect(new Set(advised.values()).size).toBeGreaterThanOrEqual(2)
    for (const [client, seconds] of advised) {
      expect(seconds).toBeGreaterThanOrEqual(1)
      expect(seconds).toBeLessThanOrEqual(2)
      const [refusedAt, retriedAt] = arrivals.get(client) as number[]
      expect((retriedAt as number) - (refusedAt as number)).toBeGreaterThanOrEqual(seconds * 1000 - 50)
    }
  })
})
