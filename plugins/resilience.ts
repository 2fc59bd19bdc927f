import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { assertKnownKeys, assertOptionsObject } from '../src/options.js'
import { FRS_ERR_OPTION_INVALID } from '../src/errors.js'
import { describeValue } from '../src/describe.js'
import { deadlines } from './deadlines.js'
import { dependencies } from './dependencies.js'
import type { DependenciesOptions } from './dependencies.js'
import type { DeadlinesOptions } from './deadlines.js'
import { chaos } from './chaos.js'
import type { ChaosOptions } from './chaos.js'
import { errorBudget } from './error-budget.js'
import type { ErrorBudgetOptions } from './error-budget.js'
import { idempotency } from './idempotency.js'
import { loadShedding } from './load-shedding.js'
import type { LoadSheddingOptions } from './load-shedding.js'
import type { IdempotencyOptions } from './idempotency.js'
import { problemDetails } from './problem-details.js'
import { health } from './health.js'
import type { HealthOptions } from './health.js'
import { metrics } from './metrics.js'
import type { MetricsOptions } from './metrics.js'
import type { ProblemDetailsOptions } from './problem-details.js'
import { statusPage } from './status-page.js'
import type { StatusPageOptions } from './status-page.js'

/** Options of the umbrella plugin: one key per capability; `false` leaves it out. */
export interface ResilienceOptions {
  /** RFC 9457 problem responses for every error. @default {} */
  problemDetails?: ProblemDetailsOptions | false
  /** Cascading request deadlines; needs problemDetails. @default {} */
  deadlines?: DeadlinesOptions | false
  /** Named outbound dependencies with breakers, retry budgets, bulkheads and fallbacks; needs problemDetails. @default {} */
  dependencies?: DependenciesOptions | false
  /** Admission control and load shedding with Retry-After; needs problemDetails. @default {} */
  loadShedding?: LoadSheddingOptions | false
  /** Chaos injection hooks; off until enabled. @default {} */
  chaos?: ChaosOptions | false
  /** Idempotency keys; applies only to routes with `config.idempotency`. @default {} */
  idempotency?: IdempotencyOptions | false
  /** Per-route SLOs and error budgets; applies to routes with `config.slo` or a default objective. @default {} */
  errorBudget?: ErrorBudgetOptions | false
  /**
   * One prom-client registry and prefix for every capability, and opt-in
   * the scrape route (`path`); `false` turns every capability's metrics off
   * (error budgets keep a `metrics` option of their own if they have one).
   * @default {}
   */
  metrics?: MetricsOptions | false
  /**
   * Liveness and readiness routes and a graceful shutdown on `app.close()`;
   * opt-in: left out unless given.
   * @default false
   */
  health?: HealthOptions | false
  /**
   * A live status page of every capability, guarded by `authorize`;
   * opt-in: left out unless given.
   * @default false
   */
  statusPage?: StatusPageOptions | false
}

// Tied to ResilienceOptions; a type test checks that every key is listed.
export const CAPABILITIES = ['problemDetails', 'deadlines', 'dependencies', 'loadShedding', 'chaos', 'idempotency', 'errorBudget', 'metrics', 'health', 'statusPage'] as const satisfies ReadonlyArray<keyof ResilienceOptions>

function capabilityOptions<T extends object> (value: T | false | undefined, name: string): T | false {
  if (value === undefined) return {} as T
  if (value === false) return false
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FRS_ERR_OPTION_INVALID(name, 'an object or false', describeValue(value))
  }
  return value
}

/**
 * Registers every enabled capability in the order that makes them compose:
 * problem details first, so that the errors of the others are problems;
 * then deadlines, so that later capabilities know each request's budget;
 * then dependencies, whose calls are bound to that budget and whose fast
 * failures end the handler (and free its admission slot) at once;
 * then load shedding, which refuses what cannot be served within that
 * budget before any work is done; then chaos, whose faults come after
 * admission and before the handler; then idempotency, whose store calls are
 * bounded by the budget and which never sees a shed request; then error
 * budgets, which classify every answer, sheds and deadlines included;
 * then health: its hooks are context-level, so its refusals while shutting
 * down still come before every route-level hook (shedding, chaos,
 * idempotency), and after error budgets' arrival time, so they are timed
 * and classified like any answer. The shared metrics registry comes right
 * after problem details, so that every capability after it registers its
 * metrics there. The status page comes last, reading all of them.
 */
const resiliencePlugin: FastifyPluginAsync<ResilienceOptions> = async function resilience (app, options) {
  const raw: unknown = options
  assertOptionsObject(raw, 'resilience options')
  assertKnownKeys(raw, CAPABILITIES, 'resilience options')
  const problemDetailsOptions = capabilityOptions(options.problemDetails, 'problemDetails')
  const deadlinesOptions = capabilityOptions(options.deadlines, 'deadlines')
  const dependenciesOptions = capabilityOptions(options.dependencies, 'dependencies')
  const loadSheddingOptions = capabilityOptions(options.loadShedding, 'loadShedding')
  const chaosOptions = capabilityOptions(options.chaos, 'chaos')
  const idempotencyOptions = capabilityOptions(options.idempotency, 'idempotency')
  const errorBudgetOptions = capabilityOptions(options.errorBudget, 'errorBudget')
  const healthOptions = options.health === undefined ? false : capabilityOptions(options.health, 'health')
  const metricsOptions = capabilityOptions(options.metrics, 'metrics')
  const statusPageOptions = options.statusPage === undefined ? false : capabilityOptions(options.statusPage, 'statusPage')
  if (problemDetailsOptions === false && !app.hasPlugin('fastify-resilience/problem-details')) {
    // Said here, naming the umbrella's options, rather than by Fastify's
    // dependency check, which names a plugin the user never registered.
    const needing = Object.entries({ deadlines: deadlinesOptions, loadShedding: loadSheddingOptions, chaos: chaosOptions, idempotency: idempotencyOptions, errorBudget: errorBudgetOptions, health: healthOptions, statusPage: statusPageOptions })
      .filter(([, capability]) => capability !== false).map(([name]) => name)
    if (needing.length > 0) {
      throw new FRS_ERR_OPTION_INVALID('problemDetails', `problem details, which ${needing.join(', ')} answer with: register problemDetails before the umbrella, or set those to false too`, 'false')
    }
  }
  if (problemDetailsOptions !== false) await app.register(problemDetails, problemDetailsOptions)
  // After problem details, so that the scrape route's errors are problems;
  // before the others, which register their metrics on it.
  if (metricsOptions !== false) await app.register(metrics, metricsOptions)
  if (deadlinesOptions !== false) await app.register(deadlines, deadlinesOptions)
  if (dependenciesOptions !== false) await app.register(dependencies, dependenciesOptions)
  if (loadSheddingOptions !== false) await app.register(loadShedding, loadSheddingOptions)
  if (chaosOptions !== false) await app.register(chaos, chaosOptions)
  if (idempotencyOptions !== false) await app.register(idempotency, idempotencyOptions)
  if (errorBudgetOptions !== false) {
    const quiet = metricsOptions === false && errorBudgetOptions.metrics === undefined
    await app.register(errorBudget, quiet ? { ...errorBudgetOptions, metrics: false } : errorBudgetOptions)
  }
  if (healthOptions !== false) await app.register(health, healthOptions)
  // Last: it reads every capability above, and its streams end after health's drain began.
  if (statusPageOptions !== false) await app.register(statusPage, statusPageOptions)
}

/**
 * The umbrella plugin: every capability, registered in the order in which
 * they compose, each configured by its key of {@link ResilienceOptions}
 * (`false` leaves it out).
 */
export const resilience = fp(resiliencePlugin, {
  fastify: '5.x',
  name: 'fastify-resilience',
})
