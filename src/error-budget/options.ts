import { Registry } from 'prom-client'
import { isPromRegistry } from '../prom-registry.js'
import type { Clock } from '../clock.js'
import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID, FRS_ERR_ROUTE_CONFIG_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, optionalClock, optionalFunction, optionalIntegerBetween, optionalMetricPrefix, optionalString } from '../options.js'
import { MAX_TIMER_MS } from '../deadline/budget.js'
import { resolveAlertRules } from './burn-rate.js'
import type { AlertRule } from './burn-rate.js'
import { resolveObjective } from './objective.js'
import type { Objective, ObjectiveDefinition } from './objective.js'
import type { StateChange } from './tracker.js'
import { RedisErrorBudgetFleet } from './fleet.js'

/** Options of the `errorBudget` plugin. */
export interface ErrorBudgetOptions<Request = unknown> {
  /** SLOs declared once, for routes that name them (`config.slo: 'checkout'`). @default [] */
  objectives?: ObjectiveDefinition[]
  /** The SLO of routes that declare none; a name from `objectives`. @default none */
  defaultObjective?: string
  /** An alert rule fires only when its long window holds at least this many events. @default 20 */
  minEvents?: number
  /** The multiwindow, multi-burn-rate policy. @default DEFAULT_ALERT_RULES (the SRE workbook's) */
  alertRules?: readonly AlertRule[]
  /** How often states are evaluated for state-change events, in milliseconds. @default 10_000 */
  evaluationIntervalMs?: number
  /** Called once per state transition of an indicator (ok, warning, critical, exhausted). */
  onStateChange?: (change: StateChange) => void
  /**
   * A GET route answering the status as JSON: `true` at /slo, or its path
   * and an `authorize(request)` check (403 when it answers false).
   * @default false
   */
  statusRoute?: boolean | {
    path?: string
    /** Whether this request may read the status. */
    authorize?: (request: Request) => boolean | Promise<boolean>
  }
  /** prom-client metrics; `false` turns them off. @default { registry: a new Registry, prefix: '' } */
  metrics?: false | { registry?: Registry, prefix?: string }
  /** Shares counts with the other instances through Redis, for `app.errorBudget.fleetStatus()`. @default none */
  fleet?: RedisErrorBudgetFleet
  /** Time source, for tests. @default monotonic time */
  clock?: Clock
}

export interface ResolvedErrorBudgetOptions<Request> {
  fleet: RedisErrorBudgetFleet | undefined
  objectives: Map<string, Objective[]>
  defaultObjective: string | undefined
  minEvents: number
  alertRules: readonly AlertRule[]
  evaluationIntervalMs: number
  onStateChange: ((change: StateChange) => void) | undefined
  statusRoute: { path: string, authorize: ((request: Request) => boolean | Promise<boolean>) | undefined } | undefined
  metrics: { registry: Registry, prefix: string } | undefined
  clock: Clock
}

// Tied to the interface: a key listed here must exist there, and a type test
// checks that every key there is listed (test/types/option-keys.test-d.ts).
export const ERROR_BUDGET_KEYS = ['objectives', 'defaultObjective', 'minEvents', 'alertRules', 'evaluationIntervalMs', 'onStateChange', 'statusRoute', 'metrics', 'fleet', 'clock'] as const satisfies ReadonlyArray<keyof ErrorBudgetOptions>

function resolveStatusRoute<Request> (value: unknown): ResolvedErrorBudgetOptions<Request>['statusRoute'] {
  if (value === undefined || value === false) return undefined
  if (value === true) return { path: '/slo', authorize: undefined }
  assertOptionsObject(value, 'errorBudget.statusRoute')
  assertKnownKeys(value, ['path', 'authorize'], 'errorBudget.statusRoute')
  const path = optionalString(value.path, 'errorBudget.statusRoute.path', '/slo')
  if (!path.startsWith('/')) throw new FRS_ERR_OPTION_INVALID('errorBudget.statusRoute.path', 'a path starting with /', describeValue(path))
  return { path, authorize: optionalFunction<(request: Request) => boolean | Promise<boolean>>(value.authorize, 'errorBudget.statusRoute.authorize') }
}

function resolveMetrics (value: unknown): ResolvedErrorBudgetOptions<unknown>['metrics'] {
  if (value === false) return undefined
  if (value === undefined) return { registry: new Registry(), prefix: '' }
  assertOptionsObject(value, 'errorBudget.metrics')
  assertKnownKeys(value, ['registry', 'prefix'], 'errorBudget.metrics')
  const prefix = optionalMetricPrefix(value.prefix, 'errorBudget.metrics.prefix')
  const registry = value.registry ?? new Registry()
  if (!isPromRegistry(registry)) throw new FRS_ERR_OPTION_INVALID('errorBudget.metrics.registry', 'a prom-client Registry', describeValue(registry))
  return { registry, prefix }
}

export function resolveErrorBudgetOptions<Request> (options: unknown): ResolvedErrorBudgetOptions<Request> {
  assertOptionsObject(options, 'errorBudget')
  assertKnownKeys(options, ERROR_BUDGET_KEYS, 'errorBudget')
  const declared = options.objectives ?? []
  if (!Array.isArray(declared)) throw new FRS_ERR_OPTION_INVALID('errorBudget.objectives', 'an array of { name, availability?, latency?, windowDays? }', describeValue(declared))
  const objectives = new Map<string, Objective[]>()
  declared.forEach((definition: unknown, index) => {
    const resolved = resolveObjective(definition, `errorBudget.objectives[${index}]`)
    const name = resolved[0]?.name ?? ''
    if (objectives.has(name)) throw new FRS_ERR_OPTION_INVALID(`errorBudget.objectives[${index}].name`, 'a name not used by another objective', describeValue(name))
    objectives.set(name, resolved)
  })
  const defaultObjective = options.defaultObjective
  if (defaultObjective !== undefined && (typeof defaultObjective !== 'string' || !objectives.has(defaultObjective))) {
    throw new FRS_ERR_OPTION_INVALID('errorBudget.defaultObjective', `the name of one of errorBudget.objectives (${[...objectives.keys()].join(', ') || 'none declared'})`, describeValue(defaultObjective))
  }
  const onStateChange = optionalFunction<(change: StateChange) => void>(options.onStateChange, 'errorBudget.onStateChange')
  const clock = optionalClock(options.clock, 'errorBudget.clock')
  if (options.fleet !== undefined && !(options.fleet instanceof RedisErrorBudgetFleet)) {
    throw new FRS_ERR_OPTION_INVALID('errorBudget.fleet', 'a RedisErrorBudgetFleet', describeValue(options.fleet))
  }
  return {
    fleet: options.fleet,
    objectives,
    defaultObjective,
    minEvents: optionalIntegerBetween(options.minEvents, 'errorBudget.minEvents', 20, 1, Number.MAX_SAFE_INTEGER, 'a positive integer'),
    alertRules: resolveAlertRules(options.alertRules, 'errorBudget.alertRules'),
    evaluationIntervalMs: optionalIntegerBetween(options.evaluationIntervalMs, 'errorBudget.evaluationIntervalMs', 10_000, 100, MAX_TIMER_MS, 'an integer of milliseconds, at least 100'),
    onStateChange,
    statusRoute: resolveStatusRoute<Request>(options.statusRoute),
    metrics: resolveMetrics(options.metrics),
    clock,
  }
}

/**
 * Resolves a route's `config.slo`: an objective, the name of a declared
 * one, or `false`; undefined falls back to the default objective.
 * Returns the objectives, or undefined when the route is not counted.
 */
export function resolveRouteObjectives (config: unknown, declared: ReadonlyMap<string, Objective[]>, defaultObjective: string | undefined, route: string): Objective[] | undefined {
  if (config === false) return undefined
  if (config === undefined) return defaultObjective === undefined ? undefined : declared.get(defaultObjective)
  if (typeof config === 'string') {
    const objectives = declared.get(config)
    if (objectives === undefined) throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'slo', `an objective object, false, or the name of one of errorBudget.objectives (${[...declared.keys()].join(', ') || 'none declared'})`, describeValue(config))
    return objectives
  }
  try {
    return resolveObjective(config, 'slo')
  } catch (error) {
    throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'slo', 'an objective { name, availability?, latency?, windowDays? }, a declared name, or false', (error as Error).message.replace(/^fastify-resilience: /, ''))
  }
}
