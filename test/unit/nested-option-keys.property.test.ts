import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Experiment } from '../../src/chaos/index.js'
import { CALL_OPTION_KEYS, FETCH_OPTION_KEYS, assertCallOptionKeys, resolveDependenciesOptions } from '../../src/dependencies/index.js'
import { resolveErrorBudgetOptions } from '../../src/error-budget/index.js'
import { resolveProblemDetailsOptions } from '../../src/problem/options.js'
import { PROPERTY_RUNS } from '../helpers/arbitraries.js'
import { thrownBy } from '../helpers/thrown.js'

/*
 * The option objects nested in lists and records check their keys as the
 * top-level ones do: from JavaScript, or from a configuration file, a key
 * they do not know is refused with FRS_ERR_OPTION_UNKNOWN, naming the
 * object's full path and the known keys, instead of being dropped or
 * reported as an invalid value.
 */

interface Subject {
  /** The object's path, as the error names it. */
  where: string
  known: readonly string[]
  /** The object, valid, to which the unknown key is added. */
  valid: () => Record<string, unknown>
  /** Resolves options that hold `nested` at `where`. */
  resolve: (nested: Record<string, unknown>) => unknown
}

const inExperiment = (fault: Record<string, unknown>): unknown => new Experiment({ name: 'e', faults: [fault] }, 0, () => 1)

const SUBJECTS: Subject[] = [
  {
    where: 'errorBudget.objectives[0]',
    known: ['name', 'availability', 'latency', 'windowDays'],
    valid: () => ({ name: 'api', availability: 0.99 }),
    resolve: (objective) => resolveErrorBudgetOptions({ objectives: [objective] }),
  },
  {
    where: 'errorBudget.objectives[0].latency',
    known: ['thresholdMs', 'target'],
    valid: () => ({ thresholdMs: 300, target: 0.99 }),
    resolve: (latency) => resolveErrorBudgetOptions({ objectives: [{ name: 'api', latency }] }),
  },
  {
    where: 'errorBudget.alertRules[1]',
    known: ['severity', 'burnRate', 'longWindowMs', 'shortWindowMs'],
    valid: () => ({ severity: 'ticket', burnRate: 1, longWindowMs: 259_200_000, shortWindowMs: 21_600_000 }),
    resolve: (rule) => resolveErrorBudgetOptions({ alertRules: [{ severity: 'page', burnRate: 14.4, longWindowMs: 3_600_000, shortWindowMs: 300_000 }, rule] }),
  },
  {
    where: 'problemDetails.types.out-of-stock',
    known: ['title', 'status', 'description'],
    valid: () => ({ title: 'Out of stock', status: 409 }),
    resolve: (definition) => resolveProblemDetailsOptions({ types: { 'out-of-stock': definition } }),
  },
  {
    where: "chaos experiment e: faults[0] (type 'error')",
    known: ['type', 'rate', 'match', 'status', 'detail'],
    valid: () => ({ type: 'error', rate: 0.1, status: 503 }),
    resolve: inExperiment,
  },
  {
    where: "chaos experiment e: faults[0] (type 'latency')",
    known: ['type', 'rate', 'match', 'ms', 'minMs', 'maxMs', 'meanMs', 'stdDevMs'],
    valid: () => ({ type: 'latency', rate: 0.1, ms: 20 }),
    resolve: inExperiment,
  },
  {
    where: 'chaos experiment e: faults[0].match',
    known: ['methods', 'path', 'header', 'dependency'],
    valid: () => ({ path: '/orders' }),
    resolve: (match) => inExperiment({ type: 'abort', rate: 0.1, match }),
  },
  {
    where: 'chaos experiment e: faults[0].match.header',
    known: ['name', 'value'],
    valid: () => ({ name: 'x-canary', value: 'yes' }),
    resolve: (header) => inExperiment({ type: 'abort', rate: 0.1, match: { header } }),
  },
  {
    where: 'dependencies.payments.fallback',
    known: ['lastGood', 'value'],
    valid: () => ({ value: null }),
    resolve: (fallback) => resolveDependenciesOptions({ payments: { fallback } }),
  },
  {
    where: "dependency('payments').fetch options",
    known: ['fallback', 'key'],
    valid: () => ({ fallback: 'last-good', key: 'rates' }),
    resolve: (options) => { assertCallOptionKeys(options, FETCH_OPTION_KEYS, "dependency('payments').fetch options") },
  },
  {
    where: "dependency('payments').call options",
    known: ['fallback', 'idempotent', 'key'],
    valid: () => ({ fallback: { value: null }, idempotent: true, key: 'rates' }),
    resolve: (options) => { assertCallOptionKeys(options, CALL_OPTION_KEYS, "dependency('payments').call options") },
  },
]

describe('nested option objects refuse keys they do not know', () => {
  for (const subject of SUBJECTS) {
    it(`${subject.where} accepts the keys it knows`, () => {
      expect(() => subject.resolve(subject.valid())).not.toThrow()
    })

    it(`${subject.where} refuses any other key as unknown, naming its path and the known keys`, () => {
      fc.assert(fc.property(
        fc.string({ maxLength: 24 }).filter((key) => !subject.known.includes(key)),
        fc.anything(),
        (key, value) => {
          const thrown = thrownBy(() => subject.resolve(Object.fromEntries([...Object.entries(subject.valid()), [key, value]])))
          expect(thrown).toBeInstanceOf(TypeError)
          expect(thrown).toMatchObject({
            code: 'FRS_ERR_OPTION_UNKNOWN',
            message: `fastify-resilience: unknown option '${key}' in ${subject.where}; expected one of: ${subject.known.join(', ')}`,
          })
        }
      ), PROPERTY_RUNS)
    })
  }
})
