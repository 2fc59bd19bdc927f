import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { listen } from '../helpers/listen.js'
import { rawGet } from '../helpers/raw-http.js'
import { waitFor } from '../helpers/wait-for.js'
import { scrape, valueOf } from './helpers.js'

/*
 * Deadline outcomes and the callers' budgets, read from a real scrape over
 * HTTP after requests that expired, were refused before any work, and
 * whose client left.
 */

let app: FastifyInstance
let port: number
let aborted = 0
let waiting = 0

beforeAll(async () => {
  app = Fastify()
  await app.register(resilience, { loadShedding: false, idempotency: false, metrics: { path: '/metrics' } })
  const untilAborted = async (signal: AbortSignal): Promise<void> => {
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => { aborted++; resolve() }, { once: true }))
  }
  app.get('/slow', { config: { deadline: { timeoutMs: 100 } } }, async (request) => { await untilAborted(request.deadline.signal); return 'late' })
  app.get('/wait', async (request) => { waiting++; await untilAborted(request.deadline.signal); return 'late' })
  app.get('/hello', async () => ({ hello: 'world' }))
  port = await listen(app)
})

afterAll(async () => { await app?.close() })

describe('deadline metrics from a real scrape', () => {
  it('counts expired, refused and client-closed deadlines by route, and the budgets callers sent', async () => {
    const expired = await fetch(`http://127.0.0.1:${port}/slow`)
    expect(expired.status).toBe(504)
    await expired.arrayBuffer()
    const refused = await fetch(`http://127.0.0.1:${port}/hello`, { headers: { 'x-request-timeout-ms': '1' } })
    expect(refused.status).toBe(504)
    await refused.arrayBuffer()
    const roomy = await fetch(`http://127.0.0.1:${port}/hello`, { headers: { 'x-request-timeout-ms': '5000' } })
    expect(roomy.status).toBe(200)
    await roomy.arrayBuffer()
    const socket = rawGet(port, '/wait')
    await waitFor(() => waiting === 1)
    socket.destroy()
    await waitFor(() => aborted === 2)

    const { samples } = await scrape(port)
    expect(valueOf(samples, 'deadline_requests_total', { route: 'GET /slow', outcome: 'expired' })).toBe(1)
    expect(valueOf(samples, 'deadline_requests_total', { route: 'GET /hello', outcome: 'refused' })).toBe(1)
    expect(valueOf(samples, 'deadline_requests_total', { route: 'GET /wait', outcome: 'client-closed' })).toBe(1)
    expect(valueOf(samples, 'deadline_requests_total', { route: 'GET /hello', outcome: 'expired' })).toBe(0)
    expect(valueOf(samples, 'deadline_requests_total', { route: 'GET /slow', outcome: 'client-closed' })).toBe(0)
    // Two callers sent a budget: 1 ms and 5 s.
    expect(valueOf(samples, 'deadline_caller_budget_seconds_count')).toBe(2)
    expect(valueOf(samples, 'deadline_caller_budget_seconds_bucket', { le: '0.01' })).toBe(1)
    expect(valueOf(samples, 'deadline_caller_budget_seconds_bucket', { le: '2.5' })).toBe(1)
    expect(valueOf(samples, 'deadline_caller_budget_seconds_bucket', { le: '5' })).toBe(2)
    expect(valueOf(samples, 'deadline_caller_budget_seconds_sum')).toBeCloseTo(5.001, 6)
    // The scrape route has no deadline of its own to count.
    expect(samples.some((sample) => sample.labels.route === 'GET /metrics')).toBe(false)
  })

  it('counts a budget too large for any timer without failing the request', async () => {
    for (const budget of ['9'.repeat(400), '99999999999999']) {
      const response = await fetch(`http://127.0.0.1:${port}/hello`, { headers: { 'x-request-timeout-ms': budget } })
      expect(response.status).toBe(200)
      await response.arrayBuffer()
    }
    const { samples } = await scrape(port)
    expect(valueOf(samples, 'deadline_caller_budget_seconds_count')).toBe(4)
    expect(valueOf(samples, 'deadline_caller_budget_seconds_bucket', { le: '60' })).toBe(2)
    // Capped at the longest timer (2^31 − 1 ms), so the sum stays a number.
    expect(valueOf(samples, 'deadline_caller_budget_seconds_sum')).toBeCloseTo(5.001 + 2 * 2_147_483.647, 3)
    expect(samples.some((sample) => sample.labels.route === 'GET /metrics')).toBe(false)
  })
})
