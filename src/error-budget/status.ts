import { allowedErrorRate, burnRate, windowLabel } from './burn-rate.js'
import type { AlertRule } from './burn-rate.js'
import type { Objective, Sli } from './objective.js'
import type { CountSource } from './fleet.js'

/** ok → warning (a ticket rule fires) → critical (a page rule fires) → exhausted (no budget left). */
export type BudgetState = 'ok' | 'warning' | 'critical' | 'exhausted'

/** The state of one indicator of one SLO, as `app.errorBudget.status()` reports it. */
export interface SliStatus {
  name: string
  sli: Sli
  state: BudgetState
  /** Fraction of good events required. */
  target: number
  /** Fraction of good events over the SLO window; null without events. */
  actual: number | null
  /** For latency: the threshold in milliseconds. */
  thresholdMs?: number
  windowDays: number
  events: { total: number, good: number, bad: number }
  budget: {
    /** Fraction of the window's error budget left; negative once overspent. */
    remaining: number
    /** Bad events the budget still allows at the traffic seen so far. */
    remainingEvents: number
  }
  /** Burn rate per window of the alert rules ("5m", "1h", …) and over the whole SLO window. */
  burnRates: Record<string, number>
  /** The alert rules firing now, e.g. "page: 14.4× over 1h and 5m". */
  firing: string[]
}

export interface EvaluationSettings {
  rules: readonly AlertRule[]
  /** A rule fires only when its long window holds at least this many events. */
  minEvents: number
}

export function ruleLabel (rule: AlertRule): string {
  return `${rule.severity}: ${rule.burnRate}× over ${windowLabel(rule.longWindowMs)} and ${windowLabel(rule.shortWindowMs)}`
}

/** Computes an indicator's budget, burn rates and state at `now`. */
/** Rates compared with a rule's may be off by float rounding (0.6 % / 0.1 % is 5.999…). */
const EPSILON = 1e-9

export function evaluateSli (objective: Objective, counter: CountSource, settings: EvaluationSettings, now: number): SliStatus {
  const { target } = objective
  const allowed = allowedErrorRate(target)
  const window = counter.sum(now, objective.windowMs)
  const burnRates: Record<string, number> = {}
  const firing: string[] = []
  let state: BudgetState = 'ok'
  for (const rule of settings.rules) {
    const long = counter.sum(now, rule.longWindowMs)
    const longRate = burnRate(long, target)
    const shortRate = burnRate(counter.sum(now, rule.shortWindowMs), target)
    burnRates[windowLabel(rule.longWindowMs)] = longRate
    burnRates[windowLabel(rule.shortWindowMs)] = shortRate
    if (long.total >= settings.minEvents && longRate >= rule.burnRate - EPSILON && shortRate >= rule.burnRate - EPSILON) {
      firing.push(ruleLabel(rule))
      if (rule.severity === 'page') state = 'critical'
      else if (state === 'ok') state = 'warning'
    }
  }
  burnRates[windowLabel(objective.windowMs)] = burnRate(window, target)
  const allowedBad = window.total * allowed
  const remaining = window.total === 0 ? 1 : 1 - window.bad / allowedBad
  if (window.total >= settings.minEvents && remaining <= 0) state = 'exhausted'
  return {
    name: objective.name,
    sli: objective.sli,
    state,
    target,
    actual: window.total === 0 ? null : 1 - window.bad / window.total,
    ...(objective.thresholdMs === undefined ? {} : { thresholdMs: objective.thresholdMs }),
    windowDays: objective.windowMs / 86_400_000,
    events: { total: window.total, good: window.total - window.bad, bad: window.bad },
    budget: { remaining, remainingEvents: Math.floor(allowedBad - window.bad) },
    burnRates,
    firing,
  }
}
