import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, optionalMetricPrefix, optionalString } from '../options.js'
import { assertCapabilityNames } from './capabilities.js'

/** Options of the generated dashboard. */
export interface DashboardOptions {
  /** @default 'fastify-resilience' */
  title?: string
  /** Grafana's identifier of the dashboard (1 to 40 letters, digits, - and _); keep it stable to overwrite on import. @default 'fastify-resilience' */
  uid?: string
  /** PromQL range of every rate(): a Prometheus duration, or a Grafana interval variable such as `$__rate_interval`. @default '5m' */
  rateInterval?: string
}

// Tied to the interface as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const DASHBOARD_KEYS = ['title', 'uid', 'rateInterval'] as const satisfies ReadonlyArray<keyof DashboardOptions>

// Grafana refuses to import a dashboard whose uid has other characters or more of them.
const GRAFANA_UID = /^[a-zA-Z0-9_-]{1,40}$/
// A Prometheus duration: numbers with units from years down to
// milliseconds, each unit at most once, the largest first.
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/
const UNIT_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1]
// Prometheus holds a duration in nanoseconds, in 64 bits: at most about 292 years.
const MAX_DURATION_MS = 9_223_372_036_854
// Filled in by Grafana before the query reaches Prometheus.
const GRAFANA_INTERVALS = ['$__rate_interval', '$__interval', '$__range']
const RATE_INTERVAL_EXPECTED = `a Prometheus duration such as '5m' or '1h30m', or one of Grafana's ${GRAFANA_INTERVALS.map((name) => `'${name}'`).join(', ')}`

/**
 * Whether PromQL reads `text` as the range of a selector: a duration
 * above 0 that Prometheus can hold. A range it cannot read would make
 * every panel's query fail.
 */
export function isPrometheusDuration (text: string): boolean {
  const match = DURATION.exec(text)
  if (match === null) return false
  const ms = match.slice(1).reduce((sum, digits, index) => digits === undefined ? sum : sum + Number(digits) * (UNIT_MS[index] ?? 0), 0)
  return ms > 0 && ms <= MAX_DURATION_MS
}

/** The dashboard's options with their defaults, checked: a build step has nothing else to catch a mistake before Grafana does. */
function resolveDashboardOptions (options: unknown): Required<DashboardOptions> {
  assertOptionsObject(options, 'grafanaDashboard options')
  assertKnownKeys(options, DASHBOARD_KEYS, 'grafanaDashboard options')
  const title = optionalString(options.title, 'grafanaDashboard title', 'fastify-resilience')
  if (title.trim() === '') throw new FRS_ERR_OPTION_INVALID('grafanaDashboard title', 'a non-empty string', describeValue(title))
  const uid = optionalString(options.uid, 'grafanaDashboard uid', 'fastify-resilience')
  if (!GRAFANA_UID.test(uid)) throw new FRS_ERR_OPTION_INVALID('grafanaDashboard uid', 'a Grafana uid: 1 to 40 letters, digits, - and _', describeValue(uid))
  const rateInterval = optionalString(options.rateInterval, 'grafanaDashboard rateInterval', '5m')
  if (!isPrometheusDuration(rateInterval) && !GRAFANA_INTERVALS.includes(rateInterval)) {
    throw new FRS_ERR_OPTION_INVALID('grafanaDashboard rateInterval', RATE_INTERVAL_EXPECTED, describeValue(rateInterval))
  }
  return { title, uid, rateInterval }
}

/** One query of a panel. */
export interface DashboardTarget {
  refId: string
  expr: string
  legendFormat: string
  datasource: { type: 'prometheus', uid: string }
}

export interface DashboardPanel {
  id: number
  type: 'row' | 'timeseries'
  title: string
  gridPos: { h: number, w: number, x: number, y: number }
  collapsed?: boolean
  panels?: DashboardPanel[]
  datasource?: { type: 'prometheus', uid: string }
  targets?: DashboardTarget[]
  fieldConfig?: { defaults: { unit: string }, overrides: never[] }
  options?: { legend: { displayMode: 'list', placement: 'bottom', showLegend: boolean }, tooltip: { mode: 'multi', sort: 'none' } }
}

/** A Grafana dashboard model, importable as is (Dashboards → New → Import). */
export interface GrafanaDashboard {
  title: string
  uid: string
  tags: string[]
  schemaVersion: number
  version: number
  editable: boolean
  time: { from: string, to: string }
  refresh: string
  templating: { list: Array<{ name: string, label: string, type: 'datasource', query: 'prometheus', current: Record<string, never>, hide: number }> }
  annotations: { list: never[] }
  panels: DashboardPanel[]
}

interface PanelSpec {
  title: string
  unit: string
  /** [PromQL, legend] pairs. */
  queries: Array<[string, string]>
}

interface RowSpec { title: string, panels: PanelSpec[] }

// Grafana's own variable syntax, filled in by Grafana, not a template string.
// eslint-disable-next-line no-template-curly-in-string
const DATASOURCE = { type: 'prometheus' as const, uid: '${datasource}' }

/** The rows of each capability, over the metrics it registers. `m` prefixes a name; `r` is the rate interval. */
function rowOf (capability: string, m: (name: string) => string, r: string): RowSpec | undefined {
  const rate = (name: string, by: string, selector = ''): string => `sum by (${by}) (rate(${m(name)}${selector}[${r}]))`
  const quantile = (q: number, name: string, by: string): string => `histogram_quantile(${q}, sum by (${['le', ...(by === '' ? [] : [by])].join(', ')}) (rate(${m(name)}_bucket[${r}])))`
  switch (capability) {
    case 'loadShedding':
      return {
        title: 'Load shedding',
        panels: [
          { title: 'Shed requests by reason', unit: 'reqps', queries: [[rate('load_shedding_shed_total', 'reason'), '{{reason}}']] },
          { title: 'Shed requests by priority', unit: 'reqps', queries: [[rate('load_shedding_shed_total', 'priority'), '{{priority}}']] },
          {
            title: 'Share of requests shed',
            unit: 'percentunit',
            queries: [[`sum(rate(${m('load_shedding_shed_total')}[${r}])) / (sum(rate(${m('load_shedding_shed_total')}[${r}])) + sum(rate(${m('load_shedding_admitted_total')}[${r}])))`, 'shed']],
          },
          {
            title: 'Concurrency limit, in flight and queued',
            unit: 'short',
            queries: [
              [`sum by (pool) (${m('load_shedding_concurrency_limit')})`, 'limit {{pool}}'],
              [`sum by (pool) (${m('load_shedding_in_flight')})`, 'in flight {{pool}}'],
              [`sum by (pool) (${m('load_shedding_queued')})`, 'queued {{pool}}'],
            ],
          },
          {
            title: 'Queue wait',
            unit: 's',
            queries: [[quantile(0.5, 'load_shedding_queue_wait_seconds', ''), 'p50'], [quantile(0.99, 'load_shedding_queue_wait_seconds', ''), 'p99']],
          },
          { title: 'Pressure level', unit: 'short', queries: [[`max(${m('load_shedding_pressure_level')})`, 'level']] },
        ],
      }
    case 'deadlines':
      return {
        title: 'Deadlines',
        panels: [
          { title: 'Deadline outcomes', unit: 'reqps', queries: [[rate('deadline_requests_total', 'outcome'), '{{outcome}}']] },
          { title: 'Expired deadlines by route', unit: 'reqps', queries: [[rate('deadline_requests_total', 'route', '{outcome="expired"}'), '{{route}}']] },
          {
            title: 'Caller budget at arrival',
            unit: 's',
            queries: [[quantile(0.1, 'deadline_caller_budget_seconds', ''), 'p10'], [quantile(0.5, 'deadline_caller_budget_seconds', ''), 'p50']],
          },
        ],
      }
    case 'idempotency':
      return {
        title: 'Idempotency',
        panels: [
          { title: 'Idempotency outcomes', unit: 'reqps', queries: [[rate('idempotency_requests_total', 'outcome'), '{{outcome}}']] },
          { title: 'Store errors by operation', unit: 'ops', queries: [[rate('idempotency_store_errors_total', 'operation'), '{{operation}}']] },
          { title: 'Store call duration (p99)', unit: 's', queries: [[quantile(0.99, 'idempotency_store_duration_seconds', 'operation'), '{{operation}}']] },
        ],
      }
    case 'chaos':
      return {
        title: 'Chaos',
        panels: [
          { title: 'Injected faults by type', unit: 'reqps', queries: [[rate('chaos_injections_total', 'type'), '{{type}}']] },
          { title: 'Injected faults by source', unit: 'reqps', queries: [[rate('chaos_injections_total', 'source'), '{{source}}']] },
          { title: 'Chaos on and faults in progress', unit: 'short', queries: [[`max(${m('chaos_enabled')})`, 'enabled'], [`sum(${m('chaos_active_faults')})`, 'active faults']] },
        ],
      }
    case 'dependencies':
      return {
        title: 'Dependencies',
        panels: [
          {
            title: 'Breakers open or half-open',
            unit: 'short',
            queries: [
              [`max by (dependency) (${m('dependency_breaker_state')}{state="open"})`, 'open {{dependency}}'],
              [`max by (dependency) (${m('dependency_breaker_state')}{state="half-open"})`, 'half-open {{dependency}}'],
            ],
          },
          {
            title: 'Calls and failed attempts',
            unit: 'ops',
            queries: [[rate('dependency_calls_total', 'dependency'), 'calls {{dependency}}'], [rate('dependency_failures_total', 'dependency'), 'failed {{dependency}}']],
          },
          { title: 'Calls refused (breaker open, bulkhead full)', unit: 'ops', queries: [[rate('dependency_rejections_total', 'dependency'), '{{dependency}}']] },
          {
            title: 'Retries and hedges',
            unit: 'ops',
            queries: [[rate('dependency_retries_total', 'dependency'), 'retries {{dependency}}'], [rate('dependency_hedges_total', 'dependency'), 'hedges {{dependency}}']],
          },
          { title: 'Retry budget left', unit: 'short', queries: [[`min by (dependency) (${m('dependency_retry_budget_remaining')})`, '{{dependency}}']] },
          {
            title: 'Fallbacks and coalesced calls',
            unit: 'ops',
            queries: [[rate('dependency_fallbacks_total', 'dependency'), 'fallbacks {{dependency}}'], [rate('dependency_coalesced_total', 'dependency'), 'coalesced {{dependency}}']],
          },
          {
            title: 'Bulkhead in flight and queued',
            unit: 'short',
            queries: [[`sum by (dependency) (${m('dependency_in_flight')})`, 'in flight {{dependency}}'], [`sum by (dependency) (${m('dependency_queued')})`, 'queued {{dependency}}']],
          },
          { title: 'Timeouts', unit: 'ops', queries: [[rate('dependency_timeouts_total', 'dependency'), '{{dependency}}']] },
        ],
      }
    case 'errorBudget':
      return {
        title: 'Error budgets',
        panels: [
          {
            title: 'Bad share by SLO',
            unit: 'percentunit',
            queries: [[`sum by (slo, sli) (rate(${m('slo_events_total')}{result="bad"}[${r}])) / sum by (slo, sli) (rate(${m('slo_events_total')}[${r}]))`, '{{slo}} {{sli}}']],
          },
          { title: 'Bad requests by reason', unit: 'reqps', queries: [[rate('slo_bad_events_total', 'slo, reason'), '{{slo}} {{reason}}']] },
          { title: 'Requests left out of SLOs', unit: 'reqps', queries: [[rate('slo_uncounted_events_total', 'slo, reason'), '{{slo}} {{reason}}']] },
          { title: 'Response time (p99) by SLO', unit: 's', queries: [[quantile(0.99, 'slo_request_duration_seconds', 'slo'), '{{slo}}']] },
        ],
      }
    default:
      return undefined
  }
}

const PANEL_HEIGHT = 8
const PANEL_WIDTH = 12

/**
 * A Grafana dashboard with one row per capability that registered its
 * metrics (`capabilities`, as the hub lists them), over the series those
 * capabilities expose under `prefix`. The data source is a dashboard
 * variable, so the JSON imports as is into any Grafana with Prometheus.
 * @throws FRS_ERR_OPTION_UNKNOWN for an option it does not know, FRS_ERR_OPTION_INVALID for a prefix the metrics plugin would refuse, a title, uid or rate interval Grafana or Prometheus would
 */
export function grafanaDashboard (capabilities: readonly string[], prefix: string, options: DashboardOptions = {}): GrafanaDashboard {
  assertCapabilityNames(capabilities, 'grafanaDashboard capabilities')
  const metricPrefix = optionalMetricPrefix(prefix, 'grafanaDashboard prefix')
  const { title, uid, rateInterval: interval } = resolveDashboardOptions(options)
  const m = (name: string): string => metricPrefix + name
  const panels: DashboardPanel[] = []
  let id = 1
  let y = 0
  for (const capability of capabilities) {
    const row = rowOf(capability, m, interval)
    if (row === undefined) continue
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, panels: [], gridPos: { h: 1, w: 24, x: 0, y: y++ } })
    row.panels.forEach((spec, index) => {
      panels.push({
        id: id++,
        type: 'timeseries',
        title: spec.title,
        datasource: DATASOURCE,
        gridPos: { h: PANEL_HEIGHT, w: PANEL_WIDTH, x: (index % 2) * PANEL_WIDTH, y: y + Math.floor(index / 2) * PANEL_HEIGHT },
        targets: spec.queries.map(([expr, legendFormat], query) => ({ refId: String.fromCharCode(65 + query), expr, legendFormat, datasource: DATASOURCE })),
        fieldConfig: { defaults: { unit: spec.unit }, overrides: [] },
        options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'none' } },
      })
    })
    y += Math.ceil(row.panels.length / 2) * PANEL_HEIGHT
  }
  return {
    title,
    uid,
    tags: ['fastify-resilience'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    templating: { list: [{ name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0 }] },
    annotations: { list: [] },
    panels,
  }
}
