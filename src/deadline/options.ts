import type { Clock } from '../clock.js'
import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID, FRS_ERR_ROUTE_CONFIG_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, isIntegerBetween, optionalBoolean, optionalClock, optionalHeaderName, optionalIntegerBetween } from '../options.js'
import { MAX_TIMER_MS } from './budget.js'
import { readGrpcTimeout, readMillisecondsHeader } from './header.js'
import type { BudgetReading } from './header.js'

/** Options of the `deadlines` plugin. */
export interface DeadlinesOptions {
  /**
   * Deadline of a route that sets no `config.deadline.timeoutMs`.
   * @default 15_000
   */
  defaultTimeoutMs?: number
  /**
   * Header carrying the caller's remaining budget in whole milliseconds;
   * also the header {@link RequestDeadline.headers} forwards downstream.
   * @default 'x-request-timeout-ms'
   */
  header?: string
  /**
   * Also read gRPC's `grpc-timeout` header (`100m`, `2S`, …).
   * @default false
   */
  grpcTimeout?: boolean
  /**
   * Also read Envoy's `x-envoy-expected-rq-timeout-ms`. Only enable behind an
   * Envoy you run: any client can send the header.
   * @default false
   */
  trustEnvoyHeader?: boolean
  /**
   * Milliseconds kept back from the caller's budget for the answer's way back.
   * With `minimumMs`, less than `defaultTimeoutMs`, so that a caller whose
   * budget is the default timeout is served.
   * @default 10
   */
  safetyMarginMs?: number
  /**
   * A request whose budget (after the margin) is below this is refused with
   * a 504 before any work. Less than `defaultTimeoutMs` and than every
   * route's `timeoutMs`.
   * @default 5
   */
  minimumMs?: number
  /**
   * What a malformed budget header gets: a 400 problem (`reject`), or the
   * route's own deadline as if it were absent (`ignore`).
   * @default 'reject'
   */
  onInvalidHeader?: 'reject' | 'ignore'
  /** Time source, for tests. @default monotonic time */
  clock?: Clock
}

/** Per-route deadline settings in `config.deadline`; `false` opts the route out. */
export interface RouteDeadlineConfig {
  /**
   * This route's deadline; a caller's header can only shorten it. More than
   * the plugin's `minimumMs`.
   * @default the plugin's defaultTimeoutMs
   */
  timeoutMs?: number
}

export interface HeaderReader {
  name: string
  read: (value: string | string[] | undefined) => BudgetReading
}

export interface ResolvedDeadlinesOptions {
  defaultTimeoutMs: number
  header: string
  readers: readonly HeaderReader[]
  safetyMarginMs: number
  minimumMs: number
  onInvalidHeader: 'reject' | 'ignore'
  clock: Clock
}

// Tied to the interface: a key listed here must exist there, and a type test
// checks that every key there is listed (test/types/option-keys.test-d.ts).
export const DEADLINES_KEYS = ['defaultTimeoutMs', 'header', 'grpcTimeout', 'trustEnvoyHeader', 'safetyMarginMs', 'minimumMs', 'onInvalidHeader', 'clock'] as const satisfies ReadonlyArray<keyof DeadlinesOptions>
const TIMEOUT_EXPECTATION = `a positive integer of milliseconds up to ${MAX_TIMER_MS}`

function isTimeout (value: unknown): value is number {
  return isIntegerBetween(value, 1, MAX_TIMER_MS)
}

function nonNegativeInteger (value: unknown, name: string, fallback: number): number {
  return optionalIntegerBetween(value, name, fallback, 0, MAX_TIMER_MS, 'a non-negative integer of milliseconds')
}

export function resolveDeadlinesOptions (options: unknown): ResolvedDeadlinesOptions {
  assertOptionsObject(options, 'deadlines')
  assertKnownKeys(options, DEADLINES_KEYS, 'deadlines')
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 15_000
  if (!isTimeout(defaultTimeoutMs)) throw new FRS_ERR_OPTION_INVALID('deadlines.defaultTimeoutMs', TIMEOUT_EXPECTATION, describeValue(defaultTimeoutMs))
  const header = optionalHeaderName(options.header, 'deadlines.header', 'x-request-timeout-ms')
  const onInvalidHeader = options.onInvalidHeader ?? 'reject'
  if (onInvalidHeader !== 'reject' && onInvalidHeader !== 'ignore') {
    throw new FRS_ERR_OPTION_INVALID('deadlines.onInvalidHeader', "'reject' or 'ignore'", describeValue(onInvalidHeader))
  }
  const clock = optionalClock(options.clock, 'deadlines.clock')
  const safetyMarginMs = nonNegativeInteger(options.safetyMarginMs, 'deadlines.safetyMarginMs', 10)
  const minimumMs = nonNegativeInteger(options.minimumMs, 'deadlines.minimumMs', 5)
  // A request reaches its route with less than its deadline left, so a
  // minimum as long as the deadline would refuse every request with a 504.
  if (minimumMs >= defaultTimeoutMs) {
    throw new FRS_ERR_OPTION_INVALID('deadlines.minimumMs', `an integer of milliseconds from 0 to ${defaultTimeoutMs - 1}, below defaultTimeoutMs (${defaultTimeoutMs})`, describeValue(minimumMs))
  }
  // A caller that can wait as long as the server's own deadline must be
  // served; a larger margin refuses every caller that sends a budget.
  if (safetyMarginMs + minimumMs >= defaultTimeoutMs) {
    throw new FRS_ERR_OPTION_INVALID('deadlines.safetyMarginMs', `an integer of milliseconds from 0 to ${defaultTimeoutMs - minimumMs - 1}, so that a budget of defaultTimeoutMs (${defaultTimeoutMs}) leaves more than minimumMs (${minimumMs})`, describeValue(safetyMarginMs))
  }
  const readers: HeaderReader[] = [{ name: header, read: readMillisecondsHeader }]
  if (optionalBoolean(options.grpcTimeout, 'deadlines.grpcTimeout', false)) readers.push({ name: 'grpc-timeout', read: readGrpcTimeout })
  if (optionalBoolean(options.trustEnvoyHeader, 'deadlines.trustEnvoyHeader', false)) readers.push({ name: 'x-envoy-expected-rq-timeout-ms', read: readMillisecondsHeader })
  return {
    defaultTimeoutMs,
    header,
    readers,
    safetyMarginMs,
    minimumMs,
    onInvalidHeader,
    clock,
  }
}

/**
 * Resolves a route's `config.deadline` against the plugin defaults: its
 * timeout, or `false` when the route opts out.
 * @throws FRS_ERR_ROUTE_CONFIG_INVALID naming the route and the value
 */
export function resolveRouteDeadline (config: unknown, defaults: ResolvedDeadlinesOptions, route: string): number | false {
  if (config === undefined) return defaults.defaultTimeoutMs
  if (config === false) return false
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'deadline', 'an object { timeoutMs } or false', describeValue(config))
  }
  for (const key of Object.keys(config)) {
    if (key !== 'timeoutMs') throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, `deadline.${key}`, 'no such key (known: timeoutMs)', describeValue((config as Record<string, unknown>)[key]))
  }
  const { timeoutMs } = config as { timeoutMs?: unknown }
  if (timeoutMs === undefined) return defaults.defaultTimeoutMs
  if (!isTimeout(timeoutMs)) throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'deadline.timeoutMs', TIMEOUT_EXPECTATION, describeValue(timeoutMs))
  // As for the default timeout: no request would ever be left its minimum.
  if (timeoutMs <= defaults.minimumMs) {
    throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'deadline.timeoutMs', `an integer of milliseconds from ${defaults.minimumMs + 1} to ${MAX_TIMER_MS}, above the deadlines plugin's minimumMs (${defaults.minimumMs})`, describeValue(timeoutMs))
  }
  return timeoutMs
}
