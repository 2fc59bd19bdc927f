/** Options of the generated dashboard. */
export interface DashboardOptions {
  /** @default 'fastify-resilience' */
  title?: string
  /** Grafana's identifier of the dashboard; keep it stable to overwrite on import. @default 'fastify-resilience' */
  uid?: string
  /** PromQL range of every rate(). @default '5m' */
  rateInterval?: string
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
 */
export function grafanaDashboard (capabilities: readonly string[], prefix: string, options: DashboardOptions = {}): GrafanaDashboard {
  const m = (name: string): string => prefix + name
  const interval = options.rateInterval ?? '5m'
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
    title: options.title ?? 'fastify-resilience',
    uid: options.uid ?? 'fastify-resilience',
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
