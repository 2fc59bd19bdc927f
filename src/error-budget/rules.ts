import { resolveAlertRules, windowLabel } from './burn-rate.js'
import type { AlertRule } from './burn-rate.js'
import { DAY_MS, assertObjectives } from './objective.js'
import type { Objective } from './objective.js'
import { assertServiceName, exportName } from './export-name.js'
import { toYaml } from './yaml.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, optionalIntegerBetween, optionalMetricPrefix } from '../options.js'
import type { YamlValue } from './yaml.js'

export interface RulesSettings {
  /** Prefix of the metric names, as given to the plugin's `metrics.prefix`. @default '' */
  prefix?: string
  /** @default DEFAULT_ALERT_RULES */
  rules?: readonly AlertRule[]
  /** A rule fires only when its long window holds at least this many events, as the plugin's `minEvents`. @default 20 */
  minEvents?: number
}

export interface SpecSettings {
  /** The service the SLOs belong to: an RFC 1123 label of 2 to 63 characters, as both formats require. */
  service: string
  /** Prefix of the metric names, as given to the plugin's `metrics.prefix`. @default '' */
  prefix?: string
}

// Tied to the interfaces as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const RULES_SETTINGS_KEYS = ['prefix', 'rules', 'minEvents'] as const satisfies ReadonlyArray<keyof RulesSettings>
export const SPEC_SETTINGS_KEYS = ['service', 'prefix'] as const satisfies ReadonlyArray<keyof SpecSettings>

/**
 * Checks the objectives and options of an export as the plugin checks the
 * same values: the exports run in build steps, where nothing else checks
 * them, and a value the plugin refuses would write a file that Prometheus,
 * Sloth or OpenSLO tools refuse, or rules that always fire. `exporter`
 * names the function in error messages.
 * @returns the metric prefix, '' when none is given
 */
function checkExportInput (exporter: string, objectives: unknown, settings: unknown, known: readonly string[]): string {
  assertObjectives(objectives, `${exporter} objectives`)
  assertOptionsObject(settings, `${exporter} options`)
  assertKnownKeys(settings, known, `${exporter} options`)
  return optionalMetricPrefix(settings.prefix, `${exporter} prefix`)
}

function selector (objective: Objective, extra = ''): string {
  return `slo="${objective.name}",sli="${objective.sli}"${extra}`
}

function rateOf (objective: Objective, prefix: string, window: string, extra = ''): string {
  return `sum(rate(${prefix}slo_events_total{${selector(objective, extra)}}[${window}]))`
}

function errorRatio (objective: Objective, prefix: string, window: string): string {
  return `${rateOf(objective, prefix, window, ',result="bad"')} / ${rateOf(objective, prefix, window)}`
}

/** The events an indicator counted over `window`, labelled as its error-ratio series are, so that `and` matches them. */
function eventsIn (objective: Objective, prefix: string, window: string): string {
  return `sum by (slo, sli) (increase(${prefix}slo_events_total{${selector(objective)}}[${window}]))`
}

function slug (objective: Objective): string {
  return `${objective.name}-${objective.sli}`
}

function camel (text: string): string {
  return text.split(/[^a-zA-Z0-9]+/).filter(Boolean).map((part) => part[0]?.toUpperCase() + part.slice(1)).join('')
}

/**
 * Prometheus recording and alerting rules for the objectives, computed
 * from the plugin's `slo_events_total` counter across every instance:
 * one error-ratio series per window of the alert policy, and one alert per
 * indicator and severity whose expression ORs the window pairs of that
 * severity's rules, as the SRE workbook writes them. A pair counts only
 * when its long window holds `minEvents` events, as in the plugin's own
 * evaluation: one failed request out of one is a 100 % error ratio, and
 * would page at night on a quiet service. One alert per rule
 * would give the page rules the same name and labels: promtool reports
 * them as duplicates, and when both fire the group fails with "duplicate
 * sample for timestamp".
 * @throws FRS_ERR_OPTION_UNKNOWN for a key it does not know, FRS_ERR_OPTION_INVALID for an objective, a prefix or a rule the plugin would refuse
 */
export function prometheusRules (objectives: readonly Objective[], settings: RulesSettings = {}): string {
  const prefix = checkExportInput('prometheusRules', objectives, settings, RULES_SETTINGS_KEYS)
  const rules = resolveAlertRules(settings.rules, 'prometheusRules rules')
  const minEvents = optionalIntegerBetween(settings.minEvents, 'prometheusRules minEvents', 20, 1, Number.MAX_SAFE_INTEGER, 'a positive integer')
  const windows = [...new Set(rules.flatMap((rule) => [rule.longWindowMs, rule.shortWindowMs]))].sort((a, b) => a - b)
  const recording: YamlValue[] = objectives.flatMap((objective) => windows.map((ms) => ({
    record: `${prefix}slo:error_ratio:rate${windowLabel(ms)}`,
    expr: errorRatio(objective, prefix, windowLabel(ms)),
    labels: { slo: objective.name, sli: objective.sli },
  })))
  const severities = (['page', 'ticket'] as const).filter((severity) => rules.some((rule) => rule.severity === severity))
  const alerting: YamlValue[] = objectives.flatMap((objective) => severities.map((severity) => {
    const series = (ms: number): string => `${prefix}slo:error_ratio:rate${windowLabel(ms)}{${selector(objective)}}`
    const pairs = rules.filter((rule) => rule.severity === severity)
    const conditions = pairs.map((rule) => {
      const threshold = `(${rule.burnRate} * ${Number((1 - objective.target).toPrecision(12))})`
      return `(${series(rule.longWindowMs)} > ${threshold} and ${series(rule.shortWindowMs)} > ${threshold} and ${eventsIn(objective, prefix, windowLabel(rule.longWindowMs))} >= ${minEvents})`
    })
    return {
      alert: `${camel(slug(objective))}BudgetBurn${camel(severity)}`,
      expr: conditions.join(' or '),
      labels: { severity, slo: objective.name, sli: objective.sli },
      annotations: {
        summary: `SLO ${objective.name} (${objective.sli}) burns its error budget too fast: ${pairs.map((rule) => `${rule.burnRate}× over ${windowLabel(rule.longWindowMs)} and ${windowLabel(rule.shortWindowMs)}`).join(', or ')}`,
      },
    }
  }))
  return toYaml({
    groups: [
      { name: `${prefix}slo-recording`, rules: recording },
      { name: `${prefix}slo-alerts`, rules: alerting },
    ],
  })
}

/**
 * The window of every objective of a Sloth spec. Sloth's spec has no
 * period: `sloth generate` takes one from its command line
 * (`--default-slo-period`, 30 days unless given) for every SLO of a run,
 * so objectives of different windows cannot share a spec.
 * @throws FRS_ERR_OPTION_INVALID for objectives of more than one window
 */
function slothPeriod (objectives: readonly Objective[]): string {
  const windows = [...new Set(objectives.map((objective) => objective.windowMs))]
  if (windows.length > 1) {
    throw new FRS_ERR_OPTION_INVALID('slothSpec objectives', 'objectives of one window, since Sloth generates every SLO of a spec over the one period its command line gives (--default-slo-period); export each window in a spec of its own, e.g. slothSpec(objectives.filter((objective) => objective.windowMs === 7 * 86_400_000), { service, prefix })', `windows of ${windows.map(windowLabel).join(', ')}`)
  }
  return windowLabel(windows[0] ?? 30 * DAY_MS)
}

/**
 * The objectives as a Sloth (sloth.dev, prometheus/v1) spec; each SLO named `<slo>-<sli>` when that is a valid name, else deterministically with a hash of the SLO name.
 * Its first line, a comment, gives the `sloth generate` option that sets their window, which the spec cannot hold.
 * @throws FRS_ERR_OPTION_UNKNOWN for a key it does not know, FRS_ERR_OPTION_INVALID for objectives of more than one window, or an objective, a service or a prefix the plugin would refuse
 */
export function slothSpec (objectives: readonly Objective[], settings: SpecSettings): string {
  const prefix = checkExportInput('slothSpec', objectives, settings, SPEC_SETTINGS_KEYS)
  assertServiceName(settings.service)
  const period = slothPeriod(objectives)
  return `# The SLO period is not part of a Sloth spec: generate with sloth generate --default-slo-period=${period}\n` + toYaml({
    version: 'prometheus/v1',
    service: settings.service,
    slos: objectives.map((objective) => ({
      name: exportName(objective),
      objective: Number((objective.target * 100).toPrecision(12)),
      description: objective.sli === 'latency' ? `${objective.name}: answers within ${objective.thresholdMs ?? 0} ms` : `${objective.name}: answers without a server error`,
      sli: {
        events: {
          error_query: rateOf(objective, prefix, '{{.window}}', ',result="bad"'),
          total_query: rateOf(objective, prefix, '{{.window}}'),
        },
      },
      alerting: {
        name: `${camel(slug(objective))}BudgetBurn`,
        page_alert: { labels: { severity: 'page' } },
        ticket_alert: { labels: { severity: 'ticket' } },
      },
    })),
  })
}

/**
 * The objectives as OpenSLO v1 documents, one per indicator; each named `<slo>-<sli>` when that is a valid name, else deterministically with a hash of the SLO name.
 * @throws FRS_ERR_OPTION_UNKNOWN for a key it does not know, FRS_ERR_OPTION_INVALID for an objective, a service or a prefix the plugin would refuse
 */
export function openSloSpecs (objectives: readonly Objective[], settings: SpecSettings): string {
  const prefix = checkExportInput('openSloSpecs', objectives, settings, SPEC_SETTINGS_KEYS)
  assertServiceName(settings.service)
  const source = (query: string): YamlValue => ({ metricSource: { type: 'Prometheus', spec: { query } } })
  return objectives.map((objective) => toYaml({
    apiVersion: 'openslo/v1',
    kind: 'SLO',
    metadata: { name: exportName(objective) },
    spec: {
      service: settings.service,
      indicator: {
        metadata: { name: exportName(objective) },
        spec: {
          ratioMetric: {
            counter: true,
            good: source(`sum(${prefix}slo_events_total{${selector(objective, ',result="good"')}})`),
            total: source(`sum(${prefix}slo_events_total{${selector(objective)}})`),
          },
        },
      },
      timeWindow: [{ duration: windowLabel(objective.windowMs), isRolling: true }],
      budgetingMethod: 'Occurrences',
      objectives: [{ displayName: `${objective.name} ${objective.sli}`, target: objective.target }],
    },
  })).join('---\n')
}
