import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject } from '../options.js'

/** The two kinds of service level indicator an objective can set. */
export type Sli = 'availability' | 'latency'

/** An objective as declared, in route config or plugin options. */
export interface ObjectiveDefinition {
  /** Names the SLO in status, metrics and rules; routes with the same name share one budget. */
  name: string
  /** Share of counted requests that must succeed, e.g. 0.999. */
  availability?: number
  /** Share of successful requests that must answer within `thresholdMs`. */
  latency?: { thresholdMs: number, target: number }
  /** The SLO window, in days. @default 30 */
  windowDays?: number
}

/** One indicator of one SLO, with its target. */
export interface Objective {
  name: string
  sli: Sli
  /** Fraction of good events required, strictly between 0 and 1. */
  target: number
  /** For `latency`: the threshold in milliseconds. */
  thresholdMs: number | undefined
  windowMs: number
}

/** A day in milliseconds: objectives' windows are whole days. */
export const DAY_MS = 86_400_000
const MAX_WINDOW_DAYS = 90
const NAME = /^[a-zA-Z_][a-zA-Z0-9_:-]{0,63}$/
// Tied to the interface as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const OBJECTIVE_KEYS = ['name', 'availability', 'latency', 'windowDays'] as const satisfies ReadonlyArray<keyof ObjectiveDefinition>
export const LATENCY_KEYS = ['thresholdMs', 'target'] as const satisfies ReadonlyArray<keyof NonNullable<ObjectiveDefinition['latency']>>
export const INDICATOR_KEYS = ['name', 'sli', 'target', 'thresholdMs', 'windowMs'] as const satisfies ReadonlyArray<keyof Objective>

function assertName (name: unknown, where: string): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new FRS_ERR_OPTION_INVALID(where, 'a name of at most 64 characters, letters, digits, _, : and -, starting with a letter or _ (it becomes a Prometheus label value)', describeValue(name))
  }
}

/** `example` shows a target typical of the indicator. */
function assertTarget (target: unknown, where: string, example: string): asserts target is number {
  if (typeof target !== 'number' || !Number.isFinite(target) || target <= 0 || target >= 1) {
    throw new FRS_ERR_OPTION_INVALID(where, `a target strictly between 0 and 1, e.g. ${example}`, describeValue(target))
  }
}

function assertThreshold (thresholdMs: unknown, where: string): asserts thresholdMs is number {
  if (typeof thresholdMs !== 'number' || !Number.isFinite(thresholdMs) || thresholdMs <= 0) {
    throw new FRS_ERR_OPTION_INVALID(where, 'a positive number of milliseconds', describeValue(thresholdMs))
  }
}

function isWindowDays (days: unknown): days is number {
  return typeof days === 'number' && Number.isInteger(days) && days >= 1 && days <= MAX_WINDOW_DAYS
}

/**
 * Checks a declared objective and splits it into one {@link Objective} per
 * indicator it sets. `where` names it in error messages.
 * @throws FRS_ERR_OPTION_UNKNOWN naming a key it does not know, FRS_ERR_OPTION_INVALID naming the field and the value
 */
export function resolveObjective (definition: unknown, where: string): Objective[] {
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
    throw new FRS_ERR_OPTION_INVALID(where, 'an object { name, availability?, latency?, windowDays? }', describeValue(definition))
  }
  const values = definition as Record<string, unknown>
  assertKnownKeys(values, OBJECTIVE_KEYS, where)
  const { name, availability, latency, windowDays } = values
  assertName(name, `${where}.name`)
  const window = windowDays ?? 30
  if (!isWindowDays(window)) throw new FRS_ERR_OPTION_INVALID(`${where}.windowDays`, `an integer of days from 1 to ${MAX_WINDOW_DAYS}`, describeValue(window))
  const windowMs = window * DAY_MS
  const objectives: Objective[] = []
  if (availability !== undefined) {
    assertTarget(availability, `${where}.availability`, '0.999')
    objectives.push({ name, sli: 'availability', target: availability, thresholdMs: undefined, windowMs })
  }
  if (latency !== undefined) {
    if (typeof latency !== 'object' || latency === null || Array.isArray(latency)) throw new FRS_ERR_OPTION_INVALID(`${where}.latency`, 'an object { thresholdMs, target }', describeValue(latency))
    // A key meant for the objective (windowDays) written here would otherwise change its window without a word.
    assertKnownKeys(latency as Record<string, unknown>, LATENCY_KEYS, `${where}.latency`)
    const { thresholdMs, target } = latency as Record<string, unknown>
    assertThreshold(thresholdMs, `${where}.latency.thresholdMs`)
    assertTarget(target, `${where}.latency.target`, '0.99')
    objectives.push({ name, sli: 'latency', target, thresholdMs, windowMs })
  }
  if (objectives.length === 0) throw new FRS_ERR_OPTION_INVALID(where, 'an availability or a latency objective', 'neither')
  return objectives
}

/**
 * Checks objectives given as they are resolved, to the exports
 * (`prometheusRules`, `slothSpec`, `openSloSpecs`), by the rules the plugin
 * applies to the declarations they come from: objectives built by hand for
 * a build step are not checked by anything else, and a target above 1
 * would write thresholds below 0, rules that always fire.
 * @throws FRS_ERR_OPTION_UNKNOWN naming a key it does not know, FRS_ERR_OPTION_INVALID naming the field and the value
 */
export function assertObjectives (value: unknown, where: string): asserts value is readonly Objective[] {
  if (!Array.isArray(value)) throw new FRS_ERR_OPTION_INVALID(where, 'an array of objectives { name, sli, target, thresholdMs, windowMs }, as app.errorBudget.objectives() gives them', describeValue(value))
  const given = new Set<string>()
  value.forEach((objective: unknown, index) => {
    const at = `${where}[${index}]`
    assertIndicator(objective, at)
    // Twice, its rules and exports would be written twice, under the same names.
    const indicator = `${objective.sli} ${objective.name}`
    if (given.has(indicator)) throw new FRS_ERR_OPTION_INVALID(`${at}.name`, `a name not given before with sli '${objective.sli}'`, describeValue(objective.name))
    given.add(indicator)
  })
}

function assertIndicator (objective: unknown, where: string): asserts objective is Objective {
  assertOptionsObject(objective, where)
  assertKnownKeys(objective, INDICATOR_KEYS, where)
  const { name, sli, target, thresholdMs, windowMs } = objective
  assertName(name, `${where}.name`)
  if (sli !== 'availability' && sli !== 'latency') throw new FRS_ERR_OPTION_INVALID(`${where}.sli`, "'availability' or 'latency'", describeValue(sli))
  assertTarget(target, `${where}.target`, sli === 'availability' ? '0.999' : '0.99')
  if (sli === 'latency') assertThreshold(thresholdMs, `${where}.thresholdMs`)
  else if (thresholdMs !== undefined) throw new FRS_ERR_OPTION_INVALID(`${where}.thresholdMs`, 'undefined for an availability indicator', describeValue(thresholdMs))
  if (typeof windowMs !== 'number' || !isWindowDays(windowMs / DAY_MS)) {
    throw new FRS_ERR_OPTION_INVALID(`${where}.windowMs`, `a whole number of days from 1 to ${MAX_WINDOW_DAYS}, in milliseconds (${DAY_MS} a day)`, describeValue(windowMs))
  }
}
