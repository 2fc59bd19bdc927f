import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { assertKnownKeys } from '../options.js'

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
const NAME = /^[a-zA-Z_][a-zA-Z0-9_:-]{0,63}$/
// Tied to the interface as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const OBJECTIVE_KEYS = ['name', 'availability', 'latency', 'windowDays'] as const satisfies ReadonlyArray<keyof ObjectiveDefinition>
export const LATENCY_KEYS = ['thresholdMs', 'target'] as const satisfies ReadonlyArray<keyof NonNullable<ObjectiveDefinition['latency']>>

function isTarget (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value < 1
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
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new FRS_ERR_OPTION_INVALID(`${where}.name`, 'a name of at most 64 characters, letters, digits, _, : and -, starting with a letter or _ (it becomes a Prometheus label value)', describeValue(name))
  }
  const window = windowDays ?? 30
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 1 || window > 90) {
    throw new FRS_ERR_OPTION_INVALID(`${where}.windowDays`, 'an integer of days from 1 to 90', describeValue(window))
  }
  const windowMs = window * DAY_MS
  const objectives: Objective[] = []
  if (availability !== undefined) {
    if (!isTarget(availability)) throw new FRS_ERR_OPTION_INVALID(`${where}.availability`, 'a target strictly between 0 and 1, e.g. 0.999', describeValue(availability))
    objectives.push({ name, sli: 'availability', target: availability, thresholdMs: undefined, windowMs })
  }
  if (latency !== undefined) {
    if (typeof latency !== 'object' || latency === null || Array.isArray(latency)) throw new FRS_ERR_OPTION_INVALID(`${where}.latency`, 'an object { thresholdMs, target }', describeValue(latency))
    // A key meant for the objective (windowDays) written here would otherwise change its window without a word.
    assertKnownKeys(latency as Record<string, unknown>, LATENCY_KEYS, `${where}.latency`)
    const { thresholdMs, target } = latency as Record<string, unknown>
    if (typeof thresholdMs !== 'number' || !Number.isFinite(thresholdMs) || thresholdMs <= 0) {
      throw new FRS_ERR_OPTION_INVALID(`${where}.latency.thresholdMs`, 'a positive number of milliseconds', describeValue(thresholdMs))
    }
    if (!isTarget(target)) throw new FRS_ERR_OPTION_INVALID(`${where}.latency.target`, 'a target strictly between 0 and 1, e.g. 0.99', describeValue(target))
    objectives.push({ name, sli: 'latency', target, thresholdMs, windowMs })
  }
  if (objectives.length === 0) throw new FRS_ERR_OPTION_INVALID(where, 'an availability or a latency objective', 'neither')
  return objectives
}
