import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import got from 'got'
import { request as undiciRequest } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { withDeadline } from '../../plugins/index.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { parseMetrics } from '../error-budget/helpers.js'

/*
 * Deadlines, error budgets and chaos as third-party HTTP clients meet them,
 * used the way their users use them: a client that gives up on its own
 * timeout, a client that sends its budget, a client that retries what
 * chaos breaks.
 * Apps are created as users create them: `Fastify()`, no logger.
 */

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map(async (app) => { await app.close() }))
})

async function start (register: (app: FastifyInstance) => Promise<void>): Promise<{ app: FastifyInstance, base: string }> {
  const app = Fastify()
  apps.push(app)
  await register(app)
  const port = await listen(app)
  return { app, base: `http://127.0.0.1:${port}` }
}

describe('deadlines through got and undici', () => {
  it('got giving up on its own timeout aborts the handler\'s work with the client-closed reason', async () => {
    const aborted = deferred<unknown>()
    const { base } = await start(async (app) => {
      await app.register(resilience)
      app.get('/report', async (request) => {
        request.deadline.signal.addEventListener('abort', () => { aborted.resolve(request.deadline.signal.reason) })
        await new Promise(() => {})
      })
    })
    await expect(got(`${base}/report`, { timeout: { request: 150 }, retry: { limit: 0 } })).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(await aborted.promise).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED' })
  })

  it('a budget sent by got bounds the request: a 504 problem at that budget, not at the route\'s own timeout', async () => {
    const { base } = await start(async (app) => {
      await app.register(resilience, { deadlines: { defaultTimeoutMs: 60_000 } })
      app.get('/slow', async () => { await new Promise(() => {}) })
    })
    const response = await got(`${base}/slow`, {
      headers: { 'x-request-timeout-ms': '200' }, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 30_000 },
    })
    expect(response.statusCode).toBe(504)
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(JSON.parse(response.body)).toMatchObject({ status: 504, timeoutMs: expect.any(Number) as number })
    expect((JSON.parse(response.body) as { timeoutMs: number }).timeoutMs).toBeLessThanOrEqual(200)
  })

  it('undici.request forwards the shrunken budget that request.deadline.headers() gives it', async () => {
    let seen: string | undefined
    const downstream = await start(async (app) => {
      app.get('/stock', async (request) => {
        seen = request.headers['x-request-timeout-ms'] as string | undefined
        return { inStock: true }
      })
    })
    const { base } = await start(async (app) => {
      await app.register(resilience)
      app.get('/product', async (request) => {
        const answer = await undiciRequest(`${downstream.base}/stock`, { headers: request.deadline.headers(), signal: request.deadline.signal })
        return await answer.body.json()
      })
    })
    const answer = await undiciRequest(`${base}/product`, { headers: { 'x-request-timeout-ms': '5000' } })
    expect(answer.statusCode).toBe(200)
    expect(await answer.body.json()).toEqual({ inStock: true })
    expect(Number(seen)).toBeGreaterThan(0)
    expect(Number(seen)).toBeLessThan(5000)
  })

  it('withDeadline gives undici.request its own options back, with the caller\'s headers and the budget header', async () => {
    let seen: { accept?: string | undefined, budget?: string | undefined } = {}
    const downstream = await start(async (app) => {
      app.get('/stock', async (request) => {
        seen = { accept: request.headers.accept, budget: request.headers['x-request-timeout-ms'] as string | undefined }
        return { inStock: true }
      })
    })
    const { base } = await start(async (app) => {
      await app.register(resilience)
      app.get('/product', { config: { deadline: { timeoutMs: 5000 } } }, async (request) => {
        const answer = await undiciRequest(`${downstream.base}/stock`, withDeadline(request.deadline, { method: 'GET', headers: { accept: 'application/json' }, bodyTimeout: 10_000 }))
        return await answer.body.json()
      })
    })
    const answer = await undiciRequest(`${base}/product`)
    expect(answer.statusCode).toBe(200)
    expect(await answer.body.json()).toEqual({ inStock: true })
    expect(seen.accept).toBe('application/json')
    expect(Number(seen.budget)).toBeGreaterThan(0)
    expect(Number(seen.budget)).toBeLessThanOrEqual(5000)
  })
})

describe('error budgets through got', () => {
  it('latency counts from each request\'s arrival over a real socket: a slow answer is counted slow, and a quick one takes its own time, not the process\'s age', async () => {
    const { app, base } = await start(async (app) => {
      await app.register(resilience, { errorBudget: { objectives: [{ name: 'shop', availability: 0.999, latency: { thresholdMs: 20, target: 0.99 } }], defaultObjective: 'shop' } })
      app.get('/slow', async () => {
        await new Promise((resolve) => setTimeout(resolve, 80))
        return { ok: true }
      })
      app.get('/quick', async () => ({ ok: true }))
    })
    expect(await got(`${base}/slow`, { retry: { limit: 0 } }).json()).toEqual({ ok: true })
    const latency = (): unknown => app.errorBudget.status().find((status) => status.sli === 'latency')?.events
    expect(latency()).toEqual({ total: 1, good: 0, bad: 1 })
    const metrics = parseMetrics(await app.errorBudget.registry?.metrics() ?? '')
    // The time the answer took, from its arrival: at least the 80 ms, far from the process's age.
    const slowSeconds = metrics.get('slo_request_duration_seconds_sum{slo="shop",route="GET /slow"}') ?? 0
    expect(slowSeconds).toBeGreaterThanOrEqual(0.075)
    expect(slowSeconds).toBeLessThan(5)
    const uptimeMs = performance.now()
    await got(`${base}/quick`, { retry: { limit: 0 } })
    const quickSeconds = parseMetrics(await app.errorBudget.registry?.metrics() ?? '').get('slo_request_duration_seconds_sum{slo="shop",route="GET /quick"}') ?? Infinity
    expect(quickSeconds * 1000).toBeLessThan(uptimeMs)
  })
})

describe('chaos through a retrying client', () => {
  it('got retries the 503s chaos injects and gets through; the retries match the faults injected', async () => {
    const { app, base } = await start(async (app) => {
      await app.register(resilience, { chaos: { enabled: true, seed: 42 } })
      app.get('/catalogue', { config: { chaos: { faults: [{ type: 'error', rate: 0.5, status: 503 }] } } }, async () => ({ items: 3 }))
    })
    let retries = 0
    for (let index = 0; index < 20; index++) {
      const response = await got(`${base}/catalogue`, {
        retry: { limit: 10, statusCodes: [503], backoffLimit: 1, calculateDelay: ({ computedValue }) => computedValue === 0 ? 0 : 1 },
        hooks: { beforeRetry: [() => { retries++ }] },
      }).json()
      expect(response).toEqual({ items: 3 })
    }
    const injected = app.chaos.stats().injected.total
    expect(injected).toBeGreaterThan(0)
    expect(retries).toBe(injected)
  })
})
