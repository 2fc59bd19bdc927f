import { constants } from 'node:os'
import type { Clock } from '../clock.js'
import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, optionalBoolean, optionalClock, optionalFunction, optionalIntegerBetween } from '../options.js'
import { MAX_TIMER_MS } from '../deadline/budget.js'
import type { HealthCheck, ResolvedHealthCheck } from './check-runner.js'

/** Graceful shutdown, run by `app.close()`. */
export interface ShutdownOptions {
  /**
   * How long readiness fails while requests are still served, before new
   * requests are refused, in milliseconds: long enough for load balancers
   * to see readiness fail (their probe period times their failure threshold).
   * @default 5000
   */
  graceMs?: number
  /**
   * Bound on the whole shutdown from `app.close()`, in milliseconds: when
   * it passes, the connections still open are closed.
   * @default 30000
   */
  timeoutMs?: number
  /** Signals that start `app.close()` (and exit the process once it is closed). @default [] */
  signals?: readonly NodeJS.Signals[]
}

/** Options of the `health` plugin. */
export interface HealthOptions<Request = unknown, RouteOptions extends object = Record<string, unknown>> {
  /** Path of the liveness route; `false` leaves it out. @default '/health/live' */
  livePath?: string | false
  /** Path of the readiness route; `false` leaves it out. @default '/health/ready' */
  readyPath?: string | false
  /** Custom checks by name, run off the request path; see {@link HealthCheck}. @default {} */
  checks?: Record<string, HealthCheck>
  /**
   * Whether a caller may see details (check names, output, observed
   * values); others get the status alone.
   * @default nobody
   */
  authorize?: (request: Request) => boolean | Promise<boolean>
  /** Liveness fails when the event loop has been blocked longer than this, in milliseconds. @default 5000 */
  maxEventLoopDelayMs?: number
  /** Readiness fails while load shedding sheds for process pressure. @default true */
  pressure?: boolean
  /**
   * Names of dependencies (the `dependencies` capability) whose breaker
   * must not be open for readiness to pass.
   * @default []
   */
  requiredDependencies?: readonly string[]
  /** Fastify route options spread on both routes (logLevel, schema for API docs); not method, url, handler or config. @default {} */
  routeOptions?: RouteOptions
  /** Graceful shutdown on `app.close()`; `false` leaves Fastify's own close as it is. @default {} */
  shutdown?: ShutdownOptions | false
  /** Time source, for tests. @default monotonic time */
  clock?: Clock
}

export interface ResolvedShutdownOptions {
  graceMs: number
  timeoutMs: number
  signals: readonly NodeJS.Signals[]
}

export interface ResolvedHealthOptions<Request> {
  livePath: string | false
  readyPath: string | false
  checks: ResolvedHealthCheck[]
  authorize: ((request: Request) => boolean | Promise<boolean>) | undefined
  maxEventLoopDelayMs: number
  pressure: boolean
  requiredDependencies: readonly string[]
  routeOptions: Record<string, unknown>
  shutdown: ResolvedShutdownOptions | false
  clock: Clock
}

// Tied to the interface: a key listed here must exist there, and a type test
// checks that every key there is listed (test/types/option-keys.test-d.ts).
export const HEALTH_KEYS = ['livePath', 'readyPath', 'checks', 'authorize', 'maxEventLoopDelayMs', 'pressure', 'requiredDependencies', 'routeOptions', 'shutdown', 'clock'] as const satisfies ReadonlyArray<keyof HealthOptions>
const CHECK_KEYS = ['check', 'timeoutMs', 'intervalMs', 'required', 'refuseTraffic', 'componentType'] as const
export const SHUTDOWN_KEYS = ['graceMs', 'timeoutMs', 'signals'] as const satisfies ReadonlyArray<keyof ShutdownOptions>
const RESERVED_ROUTE_OPTIONS = ['method', 'url', 'path', 'handler', 'config'] as const
// The signals this platform has, but those no process may catch.
const UNCATCHABLE = new Set(['SIGKILL', 'SIGSTOP'])
function isCatchableSignal (value: unknown): boolean {
  return typeof value === 'string' && Object.hasOwn(constants.signals, value) && !UNCATCHABLE.has(value)
}

function milliseconds (value: unknown, name: string, fallback: number, min = 1): number {
  return optionalIntegerBetween(value, name, fallback, min, MAX_TIMER_MS, `an integer of milliseconds from ${min} to ${MAX_TIMER_MS}`)
}

function path (value: unknown, name: string, fallback: string): string | false {
  if (value === undefined) return fallback
  if (value === false) return false
  if (typeof value !== 'string' || !value.startsWith('/')) throw new FRS_ERR_OPTION_INVALID(name, "a path starting with '/' or false", describeValue(value))
  return value
}

function resolveCheck (name: string, value: unknown): ResolvedHealthCheck {
  const where = `health.checks.${name}`
  assertOptionsObject(value, where)
  assertKnownKeys(value, CHECK_KEYS, where)
  const check = optionalFunction<ResolvedHealthCheck['check']>(value.check, `${where}.check`)
  if (check === undefined) throw new FRS_ERR_OPTION_INVALID(`${where}.check`, 'a function', 'undefined')
  const componentType = value.componentType
  if (componentType !== undefined && typeof componentType !== 'string') throw new FRS_ERR_OPTION_INVALID(`${where}.componentType`, 'a string', describeValue(componentType))
  return {
    name,
    check,
    timeoutMs: milliseconds(value.timeoutMs, `${where}.timeoutMs`, 1000),
    intervalMs: milliseconds(value.intervalMs, `${where}.intervalMs`, 5000),
    required: optionalBoolean(value.required, `${where}.required`, true),
    refuseTraffic: optionalBoolean(value.refuseTraffic, `${where}.refuseTraffic`, false),
    componentType,
  }
}

function resolveShutdown (value: unknown): ResolvedShutdownOptions | false {
  if (value === false) return false
  const raw = value ?? {}
  assertOptionsObject(raw, 'health.shutdown')
  assertKnownKeys(raw, SHUTDOWN_KEYS, 'health.shutdown')
  const graceMs = milliseconds(raw.graceMs, 'health.shutdown.graceMs', 5000, 0)
  const timeoutMs = milliseconds(raw.timeoutMs, 'health.shutdown.timeoutMs', 30_000)
  if (timeoutMs <= graceMs) throw new FRS_ERR_OPTION_INVALID('health.shutdown.timeoutMs', `more than graceMs (${graceMs})`, String(timeoutMs))
  const signals = raw.signals ?? []
  if (!Array.isArray(signals) || !signals.every(isCatchableSignal)) {
    throw new FRS_ERR_OPTION_INVALID('health.shutdown.signals', "an array of names of signals this platform has and a process may catch, such as ['SIGTERM', 'SIGINT']", describeValue(signals))
  }
  return { graceMs, timeoutMs, signals: [...new Set(signals as NodeJS.Signals[])] }
}

function names (value: unknown, name: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
    throw new FRS_ERR_OPTION_INVALID(name, 'an array of dependency names', describeValue(value))
  }
  return [...new Set(value as string[])]
}

export function resolveHealthOptions<Request> (options: unknown): ResolvedHealthOptions<Request> {
  const raw = options ?? {}
  assertOptionsObject(raw, 'health options')
  assertKnownKeys(raw, HEALTH_KEYS, 'health options')
  const checks = raw.checks ?? {}
  assertOptionsObject(checks, 'health.checks')
  const routeOptions = raw.routeOptions ?? {}
  assertOptionsObject(routeOptions, 'health.routeOptions')
  for (const key of RESERVED_ROUTE_OPTIONS) {
    if (key in routeOptions) throw new FRS_ERR_OPTION_INVALID(`health.routeOptions.${key}`, 'to be left out (the plugin sets it)', describeValue(routeOptions[key]))
  }
  const livePath = path(raw.livePath, 'health.livePath', '/health/live')
  const readyPath = path(raw.readyPath, 'health.readyPath', '/health/ready')
  if (livePath !== false && livePath === readyPath) throw new FRS_ERR_OPTION_INVALID('health.readyPath', 'a path other than livePath', `'${readyPath}'`)
  return {
    livePath,
    readyPath,
    checks: Object.entries(checks).map(([name, check]) => resolveCheck(name, check)),
    authorize: optionalFunction(raw.authorize, 'health.authorize'),
    maxEventLoopDelayMs: milliseconds(raw.maxEventLoopDelayMs, 'health.maxEventLoopDelayMs', 5000),
    pressure: optionalBoolean(raw.pressure, 'health.pressure', true),
    requiredDependencies: names(raw.requiredDependencies, 'health.requiredDependencies'),
    routeOptions,
    shutdown: resolveShutdown(raw.shutdown),
    clock: optionalClock(raw.clock, 'health.clock'),
  }
}
