import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { MetricsHub, grafanaDashboard, resiliencePrometheusRules } from '../../../src/metrics/index.js'
import { parseExposition, valueOf } from '../../metrics/helpers.js'

describe('MetricsHub', () => {
  it('reads counters and gauges from plain numbers at each scrape, under the prefix', async () => {
    const registry = new Registry()
    const hub = new MetricsHub(registry, 'app_')
    const counts = { a: 0 }
    const state = { open: 3 }
    hub.counter({ name: 'x_total', help: 'x', labelNames: ['kind'], read: (set) => set({ kind: 'a' }, counts.a) })
    hub.gauge({ name: 'x_open', help: 'open', labelNames: [], read: (set) => set({}, state.open) })
    counts.a += 2
    let samples = parseExposition(await registry.metrics())
    expect(valueOf(samples, 'app_x_total', { kind: 'a' })).toBe(2)
    expect(valueOf(samples, 'app_x_open')).toBe(3)
    counts.a++
    state.open = 0
    samples = parseExposition(await registry.metrics())
    expect(valueOf(samples, 'app_x_total', { kind: 'a' })).toBe(3)
    expect(valueOf(samples, 'app_x_open')).toBe(0)
  })

  it('values() reads a metric\'s series now, every reader\'s, by its unprefixed name', () => {
    const hub = new MetricsHub(new Registry(), 'app_')
    const counts = { a: 1, b: 2 }
    hub.counter({ name: 'y_total', help: 'y', labelNames: ['kind'], read: (set) => set({ kind: 'a' }, counts.a) })
    hub.counter({ name: 'y_total', help: 'y', labelNames: ['kind'], read: (set) => set({ kind: 'b' }, counts.b) })
    counts.a = 5
    expect(hub.values('y_total')).toEqual([{ labels: { kind: 'a' }, value: 5 }, { labels: { kind: 'b' }, value: 2 }])
    expect(hub.values('app_y_total')).toEqual([])
    expect(hub.values('unknown_total')).toEqual([])
  })

  it('adds up the readers of a name registered twice, and shares one histogram', async () => {
    const registry = new Registry()
    const hub = new MetricsHub(registry, '')
    for (const value of [1, 4]) hub.counter({ name: 'y_total', help: 'y', labelNames: [], read: (set) => set({}, value) })
    const first = hub.histogram({ name: 'y_seconds', help: 'y', labelNames: [], buckets: [1] })
    const second = hub.histogram({ name: 'y_seconds', help: 'y', labelNames: [], buckets: [1] })
    expect(second).toBe(first)
    first.observe(0.5)
    const samples = parseExposition(await registry.metrics())
    expect(valueOf(samples, 'y_total')).toBe(5)
    expect(valueOf(samples, 'y_seconds_count')).toBe(1)
  })

  it('keeps the largest of the readers of a gauge that combines by max, per series, and gives prom-client that aggregator', async () => {
    const registry = new Registry()
    const hub = new MetricsHub(registry, '')
    const readings: Array<Record<string, number>> = [{ a: 1, b: 0.25 }, { a: 1, b: 0.75 }]
    for (const reading of readings) {
      hub.gauge({ name: 'flag', help: 'f', labelNames: ['kind'], combine: 'max', read: (set) => { for (const [kind, value] of Object.entries(reading)) set({ kind }, value) } })
      hub.gauge({ name: 'sized', help: 's', labelNames: [], read: (set) => set({}, 3) })
    }
    const samples = parseExposition(await registry.metrics())
    expect(valueOf(samples, 'flag', { kind: 'a' })).toBe(1)
    expect(valueOf(samples, 'flag', { kind: 'b' })).toBe(0.75)
    expect(valueOf(samples, 'sized')).toBe(6)
    const aggregators = Object.fromEntries((await registry.getMetricsAsJSON()).map((metric) => [metric.name, metric.aggregator]))
    expect(aggregators).toEqual({ flag: 'max', sized: 'sum' })
  })

  it('shares a registry\'s metrics between hubs; close() takes out its readers, and a metric once none holds it', async () => {
    const registry = new Registry()
    const first = new MetricsHub(registry, 'app_')
    const second = new MetricsHub(registry, 'app_')
    for (const [hub, value] of [[first, 1], [second, 4]] as const) {
      hub.counter({ name: 'y_total', help: 'y', labelNames: [], read: (set) => set({}, value) })
      hub.histogram({ name: 'y_seconds', help: 'y', labelNames: [], buckets: [1] })
      hub.scrapedHistogram({ name: 'z_seconds', help: 'z', read: (add) => { add({ suffix: '_bucket', labels: { le: '+Inf' }, value }); add({ suffix: '_sum', labels: {}, value }); add({ suffix: '_count', labels: {}, value }) } })
    }
    first.counter({ name: 'only_first_total', help: 'f', labelNames: [], read: (set) => set({}, 7) })
    let samples = parseExposition(await registry.metrics())
    expect(valueOf(samples, 'app_y_total')).toBe(5)
    expect(valueOf(samples, 'app_z_seconds_count')).toBe(5)
    expect(second.values('only_first_total')).toEqual([{ labels: {}, value: 7 }])

    first.close()
    samples = parseExposition(await registry.metrics())
    expect(valueOf(samples, 'app_y_total')).toBe(4)
    expect(valueOf(samples, 'app_z_seconds_count')).toBe(4)
    expect(registry.getSingleMetric('app_y_seconds')).toBeDefined()
    expect(registry.getSingleMetric('app_only_first_total')).toBeUndefined()
    second.close()
    expect(await registry.getMetricsAsJSON()).toEqual([])
  })

  it('registers afresh a metric the registry lost to registry.clear(), which the older hub\'s close() leaves', async () => {
    const registry = new Registry()
    const older = new MetricsHub(registry, '')
    older.counter({ name: 'y_total', help: 'y', labelNames: [], read: (set) => set({}, 1) })
    registry.clear()
    new MetricsHub(registry, '').counter({ name: 'y_total', help: 'y', labelNames: [], read: (set) => set({}, 2) })
    older.close()
    expect(valueOf(parseExposition(await registry.metrics()), 'y_total')).toBe(2)
  })

  it('shows the zero label sets of a histogram before any observation', async () => {
    const registry = new Registry()
    new MetricsHub(registry, '').histogram({ name: 'z_seconds', help: 'z', labelNames: ['op'], buckets: [1], zero: [{ op: 'a' }, { op: 'b' }] })
    const samples = parseExposition(await registry.metrics())
    expect(valueOf(samples, 'z_seconds_count', { op: 'a' })).toBe(0)
    expect(valueOf(samples, 'z_seconds_count', { op: 'b' })).toBe(0)
  })
})

describe('grafanaDashboard', () => {
  it('has rows only for the capabilities given, unknown ones skipped, and panels that do not overlap', () => {
    const dashboard = grafanaDashboard(['loadShedding', 'somethingElse', 'chaos'], 'p_', { title: 'Shop', uid: 'shop', rateInterval: '1m' })
    expect(dashboard).toMatchObject({ title: 'Shop', uid: 'shop' })
    expect(dashboard.panels.filter((panel) => panel.type === 'row').map((panel) => panel.title)).toEqual(['Load shedding', 'Chaos'])
    const cells = new Set<string>()
    for (const { gridPos } of dashboard.panels) {
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false)
          cells.add(`${x},${y}`)
        }
      }
      expect(gridPos.x + gridPos.w).toBeLessThanOrEqual(24)
    }
    const exprs = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr)
    expect(exprs.every((expr) => expr.includes('p_'))).toBe(true)
    expect(exprs.filter((expr) => expr.includes('rate(')).every((expr) => expr.includes('[1m]'))).toBe(true)
  })

  it('is empty without capabilities, and the rules have no group without load shedding', () => {
    expect(grafanaDashboard([], '').panels).toEqual([])
    expect(resiliencePrometheusRules(['chaos'], '')).toBe('groups: []\n')
  })
})
