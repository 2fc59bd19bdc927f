import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, isIntegerBetween } from '../options.js'
import { DAY_MS } from './objective.js'
import type { Counts } from './ring.js'

/** A multiwindow, multi-burn-rate alert: fires while both windows burn at least `burnRate`. */
export interface AlertRule {
  severity: 'page' | 'ticket'
  burnRate: number
  longWindowMs: number
  shortWindowMs: number
}

// Tied to the interface as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const ALERT_RULE_KEYS = ['severity', 'burnRate', 'longWindowMs', 'shortWindowMs'] as const satisfies ReadonlyArray<keyof AlertRule>

const MINUTE = 60_000
const MIN_LONG_WINDOW_MS = MINUTE
const MIN_SHORT_WINDOW_MS = 10_000
/** Targets and windows remembered at most; an application declares a handful. */
const REMEMBERED = 256
const HOUR = 60 * MINUTE

/**
 * The Site Reliability Workbook's recommended policy for a 30-day SLO
 * (chapter 5, "Alerting on SLOs", multiwindow multi-burn-rate alerts):
 * page when 2 % of the budget burns in an hour or 5 % in six hours,
 * ticket when 10 % burns in three days; each long window is confirmed by a
 * short one of a twelfth of its length so that an alert stops soon after
 * the burning does.
 */
export const DEFAULT_ALERT_RULES: readonly AlertRule[] = Object.freeze([
  { severity: 'page', burnRate: 14.4, longWindowMs: HOUR, shortWindowMs: 5 * MINUTE },
  { severity: 'page', burnRate: 6, longWindowMs: 6 * HOUR, shortWindowMs: 30 * MINUTE },
  { severity: 'ticket', burnRate: 1, longWindowMs: 72 * HOUR, shortWindowMs: 6 * HOUR },
])

/**
 * Checks an alert policy: the plugin's `alertRules`, or the `rules` given
 * to `prometheusRules`, whose windows become the ranges of its queries.
 * `where` names it in error messages.
 * @returns DEFAULT_ALERT_RULES when `value` is undefined
 * @throws FRS_ERR_OPTION_UNKNOWN naming a key a rule does not know, FRS_ERR_OPTION_INVALID naming the field and the value
 */
export function resolveAlertRules (value: unknown, where: string): readonly AlertRule[] {
  if (value === undefined) return DEFAULT_ALERT_RULES
  if (!Array.isArray(value) || value.length === 0) throw new FRS_ERR_OPTION_INVALID(where, 'a non-empty array of { severity, burnRate, longWindowMs, shortWindowMs }', describeValue(value))
  return value.map((rule: unknown, index) => resolveAlertRule(rule, `${where}[${index}]`))
}

function resolveAlertRule (rule: unknown, where: string): AlertRule {
  assertOptionsObject(rule, where)
  // A key the rules cannot carry (labels, for) would be left out of them without a word.
  assertKnownKeys(rule, ALERT_RULE_KEYS, where)
  const { severity, burnRate, longWindowMs, shortWindowMs } = rule
  if (severity !== 'page' && severity !== 'ticket') throw new FRS_ERR_OPTION_INVALID(`${where}.severity`, "'page' or 'ticket'", describeValue(severity))
  if (typeof burnRate !== 'number' || !Number.isFinite(burnRate) || burnRate <= 0) throw new FRS_ERR_OPTION_INVALID(`${where}.burnRate`, 'a positive number', describeValue(burnRate))
  // Both windows are required: a window left out was taken as 0 ms, a range Prometheus refuses and a rate over no time.
  if (!isIntegerBetween(longWindowMs, MIN_LONG_WINDOW_MS, 90 * DAY_MS)) throw new FRS_ERR_OPTION_INVALID(`${where}.longWindowMs`, 'an integer of milliseconds from one minute to 90 days', describeValue(longWindowMs))
  if (!isIntegerBetween(shortWindowMs, MIN_SHORT_WINDOW_MS, longWindowMs)) throw new FRS_ERR_OPTION_INVALID(`${where}.shortWindowMs`, 'an integer of milliseconds from 10 s to the long window', describeValue(shortWindowMs))
  return { severity, burnRate, longWindowMs, shortWindowMs }
}

/**
 * How fast the budget burns: the observed error rate over the rate the
 * objective allows. 1 spends exactly the budget over the SLO window; 14.4
 * spends 2 % of a 30-day budget in an hour. 0 without events.
 */
export function burnRate (counts: Counts, target: number): number {
  if (counts.total === 0) return 0
  return (counts.bad / counts.total) / allowedErrorRate(target)
}

/**
 * The error rate an objective allows, rounded as it is written (1 − 0.9 is
 * 0.09999…). Remembered per target: every evaluation asks it for every
 * indicator and window, and formatting the number is most of the work.
 */
const allowedRates = new Map<number, number>()
export function allowedErrorRate (target: number): number {
  let allowed = allowedRates.get(target)
  if (allowed === undefined) {
    allowed = Number((1 - target).toPrecision(12))
    // burnRate is public: a caller with endless targets must not grow it.
    if (allowedRates.size < REMEMBERED) allowedRates.set(target, allowed)
  }
  return allowed
}

/** The highest burn rate an objective can show: every event bad. */
export function maxBurnRate (target: number): number {
  return 1 / (1 - target)
}

/** Labels already built: an application declares a handful of windows, asked for at every evaluation. */
const windowLabels = new Map<number, string>()

/** "5m", "1h", "3d": a window as the status and the rules name it. */
export function windowLabel (ms: number): string {
  let label = windowLabels.get(ms)
  if (label === undefined) {
    label = formatWindow(ms)
    if (windowLabels.size < REMEMBERED) windowLabels.set(ms, label)
  }
  return label
}

function formatWindow (ms: number): string {
  if (ms % (24 * HOUR) === 0) return `${ms / (24 * HOUR)}d`
  if (ms % HOUR === 0) return `${ms / HOUR}h`
  if (ms % MINUTE === 0) return `${ms / MINUTE}m`
  return `${Math.round(ms / 1000)}s`
}
