import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import type { ServerResponse } from 'node:http'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import resilience, { CHANNEL_NAMES } from '../../plugins/index.js'
import type { BreakerStateMessage } from '../../plugins/index.js'
import { failing, hanging, startDependency } from '../dependencies/helpers.js'
import type { DependencyServer } from '../dependencies/helpers.js'
import { listen } from '../helpers/listen.js'
import { expectMetricsClean, promtool } from '../helpers/promtool.js'
import { waitFor } from '../helpers/wait-for.js'
import { expectBreakerAlert, metricNames, scrape, valueOf } from './helpers.js'
import type { Sample } from './helpers.js'

/*
 * The dependencies' metrics from a real scrape over HTTP, after real calls
 * to real HTTP servers: a failing one whose breaker opens (retries,
 * failures, a refusal, the state change on its channel), a hanging one
 * answered from a fallback (timeouts), and a held one that coalesces
 * identical calls behind a bulkhead (in flight, read while it is held).
 */

let app: FastifyInstance
let port: number
let payments: DependencyServer
let recommendations: DependencyServer
let prices: DependencyServer
const held: ServerResponse[] = []
const changes: BreakerStateMessage[] = []
const onChange = (message: unknown): void => { changes.push(message as BreakerStateMessage) }
let dir: string

beforeAll(async () => {
  subscribe(CHANNEL_NAMES.breakerStateChanged, onChange)
  payments = await startDependency(failing(500))
  recommendations = await startDependency(hanging)
  prices = await startDependency((_request, response) => { held.push(response) })
  app = Fastify()
  await app.register(resilience, {
    metrics: { path: '/metrics' },
    loadShedding: false,
    dependencies: {
      payments: { baseUrl: payments.url, breaker: { consecutiveFailures: 3, openMs: 60_000 }, retry: { attempts: 2, backoff: { initialMs: 1, maxMs: 5 } } },
      recommendations: { baseUrl: recommendations.url, timeoutMs: 100, fallback: { value: [] } },
      prices: { baseUrl: prices.url, coalesce: true, bulkhead: { maxConcurrent: 1, maxQueue: 1 }, timeoutMs: 60_000 },
    },
  })
  app.get('/pay', async (request) => await (await request.dependency('payments').fetch('/charges')).json())
  app.get('/recommendations', async (request) => await (await request.dependency('recommendations').fetch('/for-you')).json())
  app.get('/price', async (request) => await (await request.dependency('prices').fetch('/price/1')).json())
  port = await listen(app)
  dir = mkdtempSync(join(tmpdir(), 'frs-dependency-metrics-'))
})

afterAll(async () => {
  // First: a close that fails must not leave the directory behind.
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  unsubscribe(CHANNEL_NAMES.breakerStateChanged, onChange)
  for (const response of held) response.end('{}')
  await app?.close()
  await Promise.all([payments, recommendations, prices].map(async (server) => await server?.close()))
})

async function get (path: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`)
  await response.arrayBuffer()
  return response.status
}

describe('dependency metrics from a real scrape', () => {
  let samples: Sample[]

  it('reports the breaker, calls, failures, retries, refusals, timeouts, fallbacks, coalescing and the bulkhead', async () => {
    // Each call fails twice (a retry); the third failure opens the breaker.
    expect(await get('/pay')).toBe(502)
    expect(await get('/pay')).toBe(502)
    await waitFor(() => app.dependencies.stats().payments?.state === 'open')
    expect(await get('/pay')).toBe(503)
    expect(await get('/recommendations')).toBe(200)
    const first = fetch(`http://127.0.0.1:${port}/price`)
    await waitFor(() => held.length === 1)
    const second = fetch(`http://127.0.0.1:${port}/price`)
    // Joined within the turn its call is counted.
    await waitFor(() => app.dependencies.stats().prices?.calls === 2)

    ;({ samples } = await scrape(port))
    const stats = app.dependencies.stats()
    const of = (name: string, dependency: string, labels: Record<string, string> = {}): number => valueOf(samples, name, { dependency, ...labels })
    expect(of('dependency_breaker_state', 'payments', { state: 'open' })).toBe(1)
    expect(of('dependency_breaker_state', 'payments', { state: 'closed' })).toBe(0)
    expect(of('dependency_breaker_state', 'payments', { state: 'half-open' })).toBe(0)
    expect(of('dependency_breaker_state', 'prices', { state: 'closed' })).toBe(1)
    expect(of('dependency_breaker_transitions_total', 'payments', { state: 'open' })).toBe(1)
    expect(of('dependency_breaker_transitions_total', 'payments', { state: 'closed' })).toBe(0)
    expect(of('dependency_calls_total', 'payments')).toBe(3)
    expect(of('dependency_attempts_total', 'payments')).toBe(payments.seen.length)
    expect(of('dependency_failures_total', 'payments')).toBe(payments.seen.length)
    expect(of('dependency_retries_total', 'payments')).toBeGreaterThanOrEqual(1)
    expect(of('dependency_retries_total', 'payments')).toBe(stats.payments?.retries)
    expect(of('dependency_rejections_total', 'payments')).toBe(1)
    expect(of('dependency_retry_budget_remaining', 'payments')).toBe(stats.payments?.budgetLeft)
    expect(of('dependency_failure_ratio', 'payments')).toBe(stats.payments?.failureRate)
    expect(of('dependency_timeouts_total', 'recommendations')).toBe(1)
    expect(of('dependency_fallbacks_total', 'recommendations')).toBe(1)
    expect(of('dependency_fallbacks_total', 'payments')).toBe(0)
    expect(of('dependency_calls_total', 'prices')).toBe(2)
    // Counted as it ends.
    expect(of('dependency_coalesced_total', 'prices')).toBe(0)
    // Read while the one shared call is held by the server.
    expect(of('dependency_in_flight', 'prices')).toBe(1)
    expect(of('dependency_queued', 'prices')).toBe(0)
    expect(of('dependency_hedges_total', 'prices')).toBe(0)

    for (const response of held) response.end(JSON.stringify({ price: 1 }))
    expect((await first).status).toBe(200)
    expect((await second).status).toBe(200)
    const after = (await scrape(port)).samples
    expect(valueOf(after, 'dependency_in_flight', { dependency: 'prices' })).toBe(0)
    expect(valueOf(after, 'dependency_coalesced_total', { dependency: 'prices' })).toBe(1)
  })

  it('publishes the breaker\'s state change on its channel', () => {
    expect(changes).toEqual([{ dependency: 'payments', from: 'closed', to: 'open', openMs: 60_000, fromFleet: false }])
  })

  it('the dashboard has a Dependencies row whose queries resolve against the scrape', () => {
    const dashboard = app.resilienceMetrics.grafanaDashboard()
    const start = dashboard.panels.findIndex((panel) => panel.type === 'row' && panel.title === 'Dependencies')
    expect(start).toBeGreaterThanOrEqual(0)
    const next = dashboard.panels.findIndex((panel, index) => index > start && panel.type === 'row')
    const row = dashboard.panels.slice(start + 1, next === -1 ? undefined : next)
    const exposed = new Set(samples.map((sample) => sample.name))
    const queried = row.flatMap((panel) => panel.targets ?? []).flatMap((target) => metricNames(target.expr))
    expect(queried.filter((name) => name.startsWith('dependency_')).length).toBeGreaterThan(8)
    expect([...new Set(queried)].filter((name) => !exposed.has(name))).toEqual([])
  })

  it('the scrape passes promtool check metrics', async () => {
    const { text } = await scrape(port)
    await expectMetricsClean(text)
  })

  it('the breaker rules pass promtool check rules, and DependencyBreakerOpen fires for a breaker open five minutes', async () => {
    const rules = app.resilienceMetrics.prometheusRules()
    expect(rules).toContain('alert: "DependencyBreakerOpen"')
    writeFileSync(join(dir, 'resilience.yml'), rules)
    const checked = await promtool(['check', 'rules', join(dir, 'resilience.yml')])
    // Two recording rules and the alert; load shedding is off in this app.
    expect(checked.output).toContain('SUCCESS: 3 rules found')
    expect(checked.code).toBe(0)
    await expectBreakerAlert(join(dir, 'resilience.yml'), { payments: '0 0 1x20', prices: '0x22' })
  })
})
