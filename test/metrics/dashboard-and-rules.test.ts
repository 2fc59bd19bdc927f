import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { GrafanaDashboard } from '../../plugins/index.js'
import { healthy, startDependency } from '../dependencies/helpers.js'
import type { DependencyServer } from '../dependencies/helpers.js'
import { listen } from '../helpers/listen.js'
import { expectMetricsClean, promtool } from '../helpers/promtool.js'
import { waitFor } from '../helpers/wait-for.js'
import { metricNames, parseExposition, scrape, valueOf } from './helpers.js'
import type { Sample } from './helpers.js'

/*
 * Every capability on, under one prefix, after real requests: chaos's
 * metrics, the SLO series on the shared registry, the dashboard's queries
 * resolved against the real exposition, and promtool on the rules and on
 * the scrape.
 */

let app: FastifyInstance
let port: number
let samples: Sample[]
let exposition: string
let dashboard: GrafanaDashboard
let dir: string
let downstream: DependencyServer

beforeAll(async () => {
  downstream = await startDependency(healthy())
  app = Fastify()
  await app.register(resilience, {
    metrics: { path: '/metrics', prefix: 'shop_' },
    dependencies: { payments: { baseUrl: downstream.url } },
    idempotency: { unscoped: true },
    // Shedding's series are exposed either way; its machine-speed signals
    // are off so that a busy machine does not shed the requests this file
    // counts (shedding has its own tests).
    loadShedding: { loopLag: false, pressure: false },
    chaos: { enabled: true, experiments: [{ name: 'drill', seed: 1, faults: [{ type: 'latency', rate: 1, ms: 60_000, match: { path: '/drill' } }] }] },
    errorBudget: { objectives: [{ name: 'api', availability: 0.999, latency: { thresholdMs: 300, target: 0.99 } }], defaultObjective: 'api' },
  })
  app.get('/hello', async () => ({ hello: 'world' }))
  app.get('/faulty', { config: { chaos: { faults: [{ type: 'error', rate: 1, status: 503 }] } } }, async () => ({ ok: true }))
  app.get('/drill', async () => ({ ok: true }))
  app.post('/pay', { config: { idempotency: {} } }, async (request) => await (await request.dependency('payments').fetch('/charges')).json())
  port = await listen(app)
  dir = mkdtempSync(join(tmpdir(), 'frs-metrics-'))
})

afterAll(async () => {
  await app?.close()
  await downstream?.close()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

describe('chaos and SLO series on the shared registry', () => {
  it('counts injections by type and source, and reads faults in progress at scrape time', async () => {
    const hello = await fetch(`http://127.0.0.1:${port}/hello`)
    expect(hello.status).toBe(200)
    await hello.arrayBuffer()
    const faulty = await fetch(`http://127.0.0.1:${port}/faulty`)
    expect(faulty.status).toBe(503)
    await faulty.arrayBuffer()
    let answered = false
    const delayed = fetch(`http://127.0.0.1:${port}/drill`).finally(() => { answered = true })
    // Until the fault holds the request or it is answered, however long a busy machine takes to send it.
    await waitFor(() => app.chaos.stats().active === 1 || answered, 15_000)
    expect(answered).toBe(false)
    let { samples: during } = await scrape(port)
    expect(valueOf(during, 'shop_chaos_active_faults')).toBe(1)
    expect(valueOf(during, 'shop_chaos_enabled')).toBe(1)
    // The kill switch ends the delay: the request runs and chaos is off.
    app.chaos.kill('drill over')
    const drilled = await delayed
    expect(drilled.status).toBe(200)
    await drilled.arrayBuffer()
    for (const key of ['"a"', '"a"']) {
      const paid = await fetch(`http://127.0.0.1:${port}/pay`, { method: 'POST', headers: { 'idempotency-key': key } })
      await paid.arrayBuffer()
    }
    ;({ samples: during } = await scrape(port))
    expect(valueOf(during, 'shop_chaos_injections_total', { type: 'error', source: 'route' })).toBe(1)
    expect(valueOf(during, 'shop_chaos_injections_total', { type: 'latency', source: 'drill' })).toBe(1)
    expect(valueOf(during, 'shop_chaos_injections_total', { type: 'hang', source: 'route' })).toBe(0)
    expect(valueOf(during, 'shop_chaos_active_faults')).toBe(0)
    expect(valueOf(during, 'shop_chaos_enabled')).toBe(0)
    // Error budgets share the registry and the prefix: the chaos fault counts against the SLO, the scrapes do not.
    expect(valueOf(during, 'shop_slo_bad_events_total', { slo: 'api', sli: 'availability', route: 'GET /faulty', reason: 'chaos' })).toBe(1)
    expect(valueOf(during, 'shop_slo_events_total', { slo: 'api', sli: 'availability', route: 'GET /hello', result: 'good' })).toBe(1)
    expect(during.some((sample) => sample.labels.route === 'GET /metrics')).toBe(false)
    expect(app.errorBudget.registry).toBe(app.resilienceMetrics.registry)
  })
})

describe('the generated dashboard', () => {
  beforeAll(async () => {
    ;({ samples, text: exposition } = await scrape(port))
    dashboard = app.resilienceMetrics.grafanaDashboard()
  })

  it('has one row per capability with metrics, each followed by its panels', () => {
    const rows = dashboard.panels.filter((panel) => panel.type === 'row').map((panel) => panel.title)
    expect(rows).toEqual(['Deadlines', 'Dependencies', 'Load shedding', 'Chaos', 'Idempotency', 'Error budgets'])
    const ids = dashboard.panels.map((panel) => panel.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(dashboard.templating.list[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' })
    for (const panel of dashboard.panels.filter((entry) => entry.type === 'timeseries')) {
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '$' + '{datasource}' })
      expect(panel.targets?.length).toBeGreaterThan(0)
    }
    // Survives a JSON round trip unchanged: it is the file to import.
    expect(JSON.parse(JSON.stringify(dashboard))).toEqual(dashboard)
  })

  it('queries only metric names the real exposition has', () => {
    const exposed = new Set(samples.map((sample) => sample.name))
    const queried = dashboard.panels.flatMap((panel) => panel.targets ?? []).flatMap((target) => metricNames(target.expr))
    expect(queried.length).toBeGreaterThan(20)
    const missing = [...new Set(queried)].filter((name) => !exposed.has(name))
    expect(missing).toEqual([])
    expect(queried.every((name) => name.startsWith('shop_'))).toBe(true)
    // Every capability's metrics are queried somewhere.
    for (const family of ['load_shedding_', 'deadline_', 'dependency_', 'idempotency_', 'chaos_', 'slo_']) {
      expect(queried.some((name) => name.startsWith(`shop_${family}`))).toBe(true)
    }
  })

  it('the metric-name reader finds names inside aggregations and skips labels and functions', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, operation) (rate(a_bucket{x="y"}[5m])))')).toEqual(['a_bucket'])
    expect(metricNames('sum(rate(a_total[5m])) / (sum(rate(a_total[5m])) + sum(rate(b_total[5m])))')).toEqual(['a_total', 'a_total', 'b_total'])
    expect(metricNames('max(c)')).toEqual(['c'])
  })
})

describe('promtool', () => {
  it('finds the scrape clean (promtool check metrics)', async () => {
    const { text } = await scrape(port)
    await expectMetricsClean(text)
  })

  it('accepts the shedding rules, which use the prefixed names the scrape has (promtool check rules)', async () => {
    const rules = app.resilienceMetrics.prometheusRules()
    expect(rules).toContain('shop_load_shedding_shed_total')
    expect(rules).toContain('alert: "LoadSheddingHigh"')
    expect(rules).toContain('alert: "DependencyBreakerOpen"')
    const path = join(dir, 'resilience.yml')
    writeFileSync(path, rules)
    const result = await promtool(['check', 'rules', path])
    expect(result.output).toContain('SUCCESS: 7 rules found')
    expect(result.code).toBe(0)
    const exposed = new Set(parseExposition(exposition).map((sample) => sample.name))
    const recorded = [...rules.matchAll(/record: ("(?:[^"\\]|\\.)*")/g)].map(([, quoted = '']) => JSON.parse(quoted) as string)
    const selected = [...rules.matchAll(/expr: ("(?:[^"\\]|\\.)*")/g)].flatMap(([, quoted = '']) => metricNames(JSON.parse(quoted) as string))
    expect(selected.length).toBeGreaterThan(5)
    expect(selected.filter((name) => !exposed.has(name) && !recorded.includes(name))).toEqual([])
  })

  it('fires LoadSheddingHigh when a tenth of requests is shed for ten minutes (promtool test rules)', async () => {
    writeFileSync(join(dir, 'resilience.yml'), app.resilienceMetrics.prometheusRules())
    const test = [
      'rule_files: [resilience.yml]',
      'evaluation_interval: 1m',
      'tests:',
      '  - interval: 1m',
      '    input_series:',
      '      - series: \'shop_load_shedding_shed_total{reason="concurrency", priority="low"}\'',
      '        values: "0+10x30"',
      '      - series: \'shop_load_shedding_admitted_total\'',
      '        values: "0+90x30"',
      '    alert_rule_test:',
      '      - eval_time: 4m',
      '        alertname: LoadSheddingHigh',
      '        exp_alerts: []',
      '      - eval_time: 20m',
      '        alertname: LoadSheddingHigh',
      '        exp_alerts:',
      '          - exp_labels: { severity: ticket }',
      '            exp_annotations:',
      '              summary: "More than 5 % of requests are shed"',
      '              description: "Load shedding has refused 10% of requests for 10 minutes: the service needs more capacity, or a dependency slowed it down."',
      '      - eval_time: 20m',
      '        alertname: LoadSheddingCritical',
      '        exp_alerts: []',
    ].join('\n')
    const path = join(dir, 'resilience.test.yml')
    writeFileSync(path, `${test}\n`)
    const result = await promtool(['test', 'rules', path])
    expect(result.output).toContain('SUCCESS')
    expect(result.code).toBe(0)
  })
})
