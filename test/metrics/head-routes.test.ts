import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { listen } from '../helpers/listen.js'
import { scrape, valueOf } from './helpers.js'

/*
 * The HEAD route Fastify adds for every GET route (exposeHeadRoutes, on
 * by default) gets its series at its first request, not at registration:
 * at zero from the start, the added routes doubled every route's series.
 */

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close() })

async function start (options: { exposeHeadRoutes?: boolean } = {}, more: (app: FastifyInstance) => void = () => {}): Promise<number> {
  app = Fastify(options)
  await app.register(resilience, {
    loadShedding: false,
    idempotency: false,
    errorBudget: { objectives: [{ name: 'api', availability: 0.99 }] },
    metrics: { path: '/metrics' },
  })
  app.get('/orders', { config: { slo: 'api' } }, async () => ({ orders: [] }))
  app.head('/ping', { config: { slo: 'api' } }, async () => '')
  more(app)
  return listen(app)
}

const routesOf = (samples: Array<{ name: string, labels: Record<string, string> }>, prefix: string): Set<string> =>
  new Set(samples.filter((sample) => sample.name.startsWith(prefix)).map((sample) => sample.labels.route ?? ''))

describe('metrics: the HEAD routes Fastify adds', () => {
  it('have no series until they count a request, while GET and declared HEAD routes have theirs from the start', async () => {
    const port = await start()
    const before = (await scrape(port)).samples
    for (const prefix of ['slo_', 'deadline_requests_total']) {
      expect(routesOf(before, prefix)).toContain('GET /orders')
      expect(routesOf(before, prefix)).toContain('HEAD /ping')
      expect(routesOf(before, prefix)).not.toContain('HEAD /orders')
    }

    const head = await fetch(`http://127.0.0.1:${port}/orders`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    const after = (await scrape(port)).samples
    expect(valueOf(after, 'slo_events_total', { route: 'HEAD /orders', result: 'good' })).toBe(1)
    expect(valueOf(after, 'slo_request_duration_seconds_count', { route: 'HEAD /orders' })).toBe(1)
    expect(valueOf(after, 'slo_events_total', { route: 'GET /orders', result: 'good' })).toBe(0)
    // A HEAD request counts against its SLO as any other request does.
    expect(app?.errorBudget.status().find((status) => status.name === 'api')?.events.total).toBe(1)
  })

  it('shows a deadline series of an added HEAD route once it counts an outcome', async () => {
    const port = await start()
    const refused = await fetch(`http://127.0.0.1:${port}/orders`, { method: 'HEAD', headers: { 'x-request-timeout-ms': '1' } })
    expect(refused.status).toBe(504)
    const samples = (await scrape(port)).samples
    expect(valueOf(samples, 'deadline_requests_total', { route: 'HEAD /orders', outcome: 'refused' })).toBe(1)
    expect(valueOf(samples, 'deadline_requests_total', { route: 'HEAD /orders', outcome: 'expired' })).toBe(0)
  })

  it('gives an application\'s own HEAD route at a GET route\'s URL its series from the start when the GET route exposes none', async () => {
    const port = await start({ exposeHeadRoutes: false }, (app) => { app.head('/orders', { config: { slo: 'api' } }, async () => '') })
    const samples = (await scrape(port)).samples
    expect(routesOf(samples, 'slo_')).toContain('HEAD /orders')
    expect(routesOf(samples, 'deadline_requests_total')).toContain('HEAD /orders')
  })
})
