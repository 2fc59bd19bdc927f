import { toYaml } from '../error-budget/yaml.js'
import type { YamlValue } from '../error-budget/yaml.js'
import { optionalMetricPrefix } from '../options.js'
import { assertCapabilityNames } from './capabilities.js'

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

function dependencyGroup (m: (name: string) => string): YamlValue {
  const open = `${m('dependency_breaker_state')}{state="open"}`
  return {
    name: `${m('dependency')}`,
    rules: [
      {
        record: `${m('dependency_failures')}:ratio_rate5m`,
        expr: `sum by (dependency) (rate(${m('dependency_failures_total')}[5m])) / sum by (dependency) (rate(${m('dependency_attempts_total')}[5m]))`,
      },
      { record: `${m('dependency_rejections')}:rate5m`, expr: `sum by (dependency) (rate(${m('dependency_rejections_total')}[5m]))` },
      {
        // An open breaker half-opens to probe and may open again: open at
        // some moment of every 5 minutes, for 5 minutes, is an outage. The
        // gauge counts the processes in the state where a cluster's are
        // summed, so any value above 0 is open somewhere.
        alert: 'DependencyBreakerOpen',
        expr: `max by (dependency) (max_over_time(${open}[5m])) > 0`,
        for: '5m',
        labels: { severity: 'ticket' },
        annotations: {
          summary: 'The circuit breaker of {{ $labels.dependency }} stays open',
          description: 'Calls to {{ $labels.dependency }} have been refused by its open breaker for 5 minutes: requests that need it fail fast or answer from fallbacks.',
        },
      },
    ],
  }
}

/**
 * Prometheus recording and alerting rules for the capabilities that have
 * some (load shedding, dependencies' breakers), as YAML for `rule_files`; the SLO rules come
 * from `app.errorBudget.prometheusRules()`.
 * @throws FRS_ERR_OPTION_INVALID for a prefix the metrics plugin would refuse, or capabilities that are not a list of names
 */
export function resiliencePrometheusRules (capabilities: readonly string[], prefix: string): string {
  assertCapabilityNames(capabilities, 'resiliencePrometheusRules capabilities')
  // Checked as metrics.prefix is: another would write rule and metric names Prometheus refuses.
  const metricPrefix = optionalMetricPrefix(prefix, 'resiliencePrometheusRules prefix')
  const m = (name: string): string => metricPrefix + name
  const groups: YamlValue[] = []
  if (capabilities.includes('loadShedding')) groups.push(sheddingGroup(m))
  if (capabilities.includes('dependencies')) groups.push(dependencyGroup(m))
  return toYaml({ groups })
}
