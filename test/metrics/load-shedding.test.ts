import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { Priority } from '../../plugins/index.js'
import { deferred } from '../helpers/deferred.js'
import type { Deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'
import { scrape, valueOf } from './helpers.js'

/*
 * Load shedding's metrics read from a real scrape over HTTP, after real
 * requests that were admitted, queued, shed for each reason and held by a
 * bulkhead. A Fastify app without a logger.
 */

let app: FastifyInstance
let port: number
let gate: Deferred<void>
let bulkGate: Deferred<void>

beforeAll(async () => {
  gate = deferred()
  bulkGate = deferred()
  app = Fastify()
  await app.register(resilience, {
    deadlines: false,
    idempotency: false,
    metrics: { path: '/metrics' },
    loadShedding: {
      limit: 1,
      maxQueue: 1,
      // Long enough that a stalled machine cannot time the waiting request out before the next one arrives.
      maxQueueWaitMs: 1500,
      criticalReserve: 0,
      loopLag: false,
      pressure: false,
      priority: (request) => (request.headers['x-priority'] ?? 'normal') as Priority,
    },
  })
  app.get('/block', async () => { await gate.promise; return { ok: true } })
  app.get('/hello', async () => ({ hello: 'world' }))
  app.get('/bulk', { config: { shedding: { maxConcurrent: 1, maxQueue: 0 } } }, async () => { await bulkGate.promise; return { ok: true } })
  port = await listen(app)
})

afterAll(async () => {
  gate.resolve()
  bulkGate.resolve()
  await app?.close()
})

async function get (path: string, priority?: Priority): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: priority === undefined ? {} : { 'x-priority': priority } })
  await response.arrayBuffer()
  return response.status
}

describe('load shedding metrics from a real scrape', () => {
  it('reports admissions, sheds by reason and priority, the pools\' gauges at scrape time and queue waits', async () => {
    expect(await get('/hello')).toBe(200)
    const held = get('/block')
    await waitFor(() => app.loadShedding.stats().inFlight === 1)
    const queued = get('/hello', 'high')
    await waitFor(() => app.loadShedding.stats().queued === 1)

    // Read while one request holds the slot and one waits: gauges are read at scrape time.
    let { samples } = await scrape(port)
    expect(valueOf(samples, 'load_shedding_concurrency_limit', { pool: 'shared' })).toBe(1)
    expect(valueOf(samples, 'load_shedding_in_flight', { pool: 'shared' })).toBe(1)
    expect(valueOf(samples, 'load_shedding_queued', { pool: 'shared' })).toBe(1)
    expect(valueOf(samples, 'load_shedding_queue_wait_seconds_count')).toBe(0)

    // The queue is full: a low request is refused at once.
    expect(await get('/hello', 'low')).toBe(503)
    // The waiting request runs out of queue time.
    expect(await queued).toBe(503)
    gate.resolve()
    expect(await held).toBe(200)

    const bulk = get('/bulk')
    await waitFor(() => app.loadShedding.stats().bulkheads['GET /bulk']?.inFlight === 1)
    expect(await get('/bulk', 'critical')).toBe(503)
    ;({ samples } = await scrape(port))
    expect(valueOf(samples, 'load_shedding_in_flight', { pool: 'GET /bulk' })).toBe(1)
    expect(valueOf(samples, 'load_shedding_concurrency_limit', { pool: 'GET /bulk' })).toBe(1)
    expect(valueOf(samples, 'load_shedding_queued', { pool: 'GET /bulk' })).toBe(0)
    bulkGate.resolve()
    expect(await bulk).toBe(200)

    ;({ samples } = await scrape(port))
    expect(valueOf(samples, 'load_shedding_shed_total', { reason: 'concurrency', priority: 'low' })).toBe(1)
    expect(valueOf(samples, 'load_shedding_shed_total', { reason: 'queue-timeout', priority: 'high' })).toBe(1)
    expect(valueOf(samples, 'load_shedding_shed_total', { reason: 'bulkhead', priority: 'critical' })).toBe(1)
    expect(valueOf(samples, 'load_shedding_shed_total', { reason: 'pressure', priority: 'normal' })).toBe(0)
    const shed = samples.filter((sample) => sample.name === 'load_shedding_shed_total').reduce((sum, sample) => sum + sample.value, 0)
    expect(shed).toBe(3)
    // /hello, /block and /bulk: the scrapes themselves are never admitted or shed.
    expect(valueOf(samples, 'load_shedding_admitted_total')).toBe(3)
    expect(valueOf(samples, 'load_shedding_in_flight', { pool: 'shared' })).toBe(0)
    expect(valueOf(samples, 'load_shedding_pressure_level')).toBe(0)
    // One request waited in the queue, 1.5 s, until it was shed.
    expect(valueOf(samples, 'load_shedding_queue_wait_seconds_count')).toBe(1)
    expect(valueOf(samples, 'load_shedding_queue_wait_seconds_sum')).toBeGreaterThanOrEqual(1.4)
    expect(valueOf(samples, 'load_shedding_queue_wait_seconds_bucket', { le: '1' })).toBe(0)
    expect(valueOf(samples, 'load_shedding_queue_wait_seconds_bucket', { le: '+Inf' })).toBe(1)
    expect(app.loadShedding.stats().shed.total).toBe(3)
  })
})
