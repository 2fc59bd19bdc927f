import { toYaml } from '../error-budget/yaml.js'
import type { YamlValue } from '../error-budget/yaml.js'

/** Share of requests shed over 10 minutes that opens a ticket. */
const SHED_RATIO_TICKET = 0.05

function sheddingGroup (m: (name: string) => string): YamlValue {
  const shed = m('load_shedding_shed_total')
  const admitted = m('load_shedding_admitted_total')
  const ratio = `${m('load_shedding_shed')}:ratio_rate5m`
  return {
    name: `${m('load_shedding')}`,
    rules: [
      { record: `${m('load_shedding_shed')}:rate5m`, expr: `sum by (reason, priority) (rate(${shed}[5m]))` },
      { record: ratio, expr: `sum(rate(${shed}[5m])) / (sum(rate(${shed}[5m])) + sum(rate(${admitted}[5m])))` },
      {
        alert: 'LoadSheddingHigh',
        expr: `${ratio} > ${SHED_RATIO_TICKET}`,
        for: '10m',
        labels: { severity: 'ticket' },
        annotations: {
          summary: `More than ${SHED_RATIO_TICKET * 100} % of requests are shed`,
          description: 'Load shedding has refused {{ $value | humanizePercentage }} of requests for 10 minutes: the service needs more capacity, or a dependency slowed it down.',
        },
      },
      {
        alert: 'LoadSheddingCritical',
        expr: `sum(rate(${shed}{priority="critical"}[5m])) > 0`,
        for: '5m',
        labels: { severity: 'page' },
        annotations: {
          summary: 'Critical requests are being shed',
          description: 'Requests of the critical class have been refused for 5 minutes: the critical reserve is exhausted or the process is under heavy pressure.',
        },
      },
    ],
  }
}

/**
 * Prometheus recording and alerting rules for the capabilities that have
 * some (load shedding today), as YAML for `rule_files`; the SLO rules come
 * from `app.errorBudget.prometheusRules()`.
 */
export function resiliencePrometheusRules (capabilities: readonly string[], prefix: string): string {
  const m = (name: string): string => prefix + name
  const groups: YamlValue[] = []
  if (capabilities.includes('loadShedding')) groups.push(sheddingGroup(m))
  return toYaml({ groups })
}
