import type { Clock } from '../clock.js'
import { describeValue } from '../describe.js'
import { FRS_ERR_ROUTE_CONFIG_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, isIntegerBetween, optionalClock, optionalFunction, optionalIntegerBetween, optionalNumberBetween } from '../options.js'
import { MAX_TIMER_MS } from '../deadline/budget.js'
import type { GradientLimitSettings } from './limit.js'
import type { LoopLagSettings } from './loop-lag.js'
import type { Priority } from './priority.js'
import { PRIORITIES, isPriority } from './priority.js'
import type { RetryAfterSettings } from './retry-after.js'

/** Tuning of the adaptive concurrency limit; see the README for the algorithm. */
export interface AdaptiveLimitOptions {
  /** @default 100 */
  initialLimit?: number
  /** @default 8 */
  minLimit?: number
  /** @default 1000 */
  maxLimit?: number
  /** Latency may rise to this multiple of its baseline before the limit shrinks. @default 1.5 */
  tolerance?: number
  /** Weight of each new estimate, from 0 to 1. @default 0.2 */
  smoothing?: number
  /** How often the limit is recomputed, in milliseconds. @default 100 */
  windowMs?: number
  /** Time constant of the baseline latency, in windows. @default 100 */
  baselineWindows?: number
}

/** Thresholds handed to @fastify/under-pressure; a threshold of 0 is off. */
export interface PressureOptions {
  /** Mean event-loop delay over a sample, in milliseconds. @default 100 */
  maxEventLoopDelay?: number
  /** Event-loop utilisation over a sample, from 0 to 1. @default 0 (off) */
  maxEventLoopUtilization?: number
  /** @default 0 (off) */
  maxHeapUsedBytes?: number
  /** @default 0 (off) */
  maxRssBytes?: number
  /** How often the signals are sampled, and how often shedding moves one class, in milliseconds (at least 50). @default 250 */
  sampleInterval?: number
}

/** Options of the `loadShedding` plugin. */
export interface LoadSheddingOptions<Request = unknown> {
  /**
   * The concurrency limit on in-flight requests: an object tunes the
   * adaptive limit, a number fixes it, `false` removes it.
   * @default adaptive with the defaults of {@link AdaptiveLimitOptions}
   */
  limit?: AdaptiveLimitOptions | number | false
  /**
   * Requests that may wait for a slot when the limit is reached; 0 refuses
   * at once. The wait is bounded by time (maxQueueWaitMs); this bounds memory.
   * @default 1000
   */
  maxQueue?: number
  /**
   * Longest time a request may wait for a slot, in milliseconds; a tenth of
   * it once the line has not emptied for this long (sustained overload).
   * @default 50
   */
  maxQueueWaitMs?: number
  /** Share of the limit kept for `critical` requests, from 0 to 1. @default 0.1 */
  criticalReserve?: number
  /**
   * The priority of a request, for routes that declare none. A function
   * that throws counts as `normal` (logged once).
   * @default every request is `normal`
   */
  priority?: (request: Request) => Priority
  /**
   * Event-loop lag detection: turns of the event loop that stay longer than
   * `targetMs` for `intervalMs` shed the requests that arrive late in a turn.
   * @default { targetMs: 5, intervalMs: 100 }
   */
  loopLag?: { targetMs?: number, intervalMs?: number } | false
  /**
   * Process signals, through @fastify/under-pressure (registered by this
   * plugin); under pressure, classes are shed from `low` up.
   * @default { maxEventLoopDelay: 100, sampleInterval: 250 }
   */
  pressure?: PressureOptions | false
  /** The Retry-After advice of a shed request. */
  retryAfter?: {
    /** Seconds advised before any admitted request has finished (no service time yet). @default 1 */
    fallbackSeconds?: number
    /** @default 30 */
    maxSeconds?: number
    /** Advice is drawn from [wait, wait × (1 + jitter)], the wait at least 1 s, then rounded at random to a neighbouring whole second; 0 advises the wait rounded up. @default 1 */
    jitter?: number
    /**
     * A refusal for event-loop lag or process pressure is sent after a
     * random delay of up to this many milliseconds (at most half the
     * request's remaining deadline), so that clients refused in one turn
     * come back spread over that time, not in one turn; 0 sends it at once.
     * @default 1000
     */
    spreadMs?: number
  }
  /** Time source, for tests. @default monotonic time */
  clock?: Clock
  /** Random source in [0, 1) for the Retry-After spread and rounding. @default Math.random */
  random?: () => number
}

/** Per-route settings in `config.shedding`; `false` exempts the route (health checks). */
export interface RouteSheddingConfig {
  /** @default the plugin's priority(request), else 'normal' */
  priority?: Priority
  /**
   * A bulkhead: this route's own fixed concurrency limit, used instead of
   * the shared limit, so that a slow route cannot take the others' slots.
   */
  maxConcurrent?: number
  /** Requests that may wait in this route's bulkhead. @default 0 */
  maxQueue?: number
  /** Longest wait in this route's bulkhead, in milliseconds. @default the plugin's maxQueueWaitMs */
  maxQueueWaitMs?: number
}

export interface ResolvedPressureOptions {
  maxEventLoopDelay: number
  maxEventLoopUtilization: number
  maxHeapUsedBytes: number
  maxRssBytes: number
  sampleInterval: number
}

export interface ResolvedLoadSheddingOptions<Request> {
  limit: GradientLimitSettings | number | false
  maxQueue: number
  maxQueueWaitMs: number
  criticalReserve: number
  priority: ((request: Request) => Priority) | undefined
  loopLag: LoopLagSettings | false
  pressure: ResolvedPressureOptions | false
  retryAfter: RetryAfterSettings & {
    /** Longest delay before a refusal for lag or pressure is sent, in milliseconds; 0 sends it at once. */
    spreadMs: number
  }
  clock: Clock
  random: () => number
}

export interface ResolvedRouteShedding {
  /** undefined: ask the plugin's priority(request). */
  priority: Priority | undefined
  bulkhead: { maxConcurrent: number, maxQueue: number, maxQueueWaitMs: number } | undefined
}

// Tied to the interface: a key listed here must exist there, and a type test
// checks that every key there is listed (test/types/option-keys.test-d.ts).
export const LOAD_SHEDDING_KEYS = ['limit', 'maxQueue', 'maxQueueWaitMs', 'criticalReserve', 'priority', 'loopLag', 'pressure', 'retryAfter', 'clock', 'random'] as const satisfies ReadonlyArray<keyof LoadSheddingOptions>
export const LIMIT_KEYS = ['initialLimit', 'minLimit', 'maxLimit', 'tolerance', 'smoothing', 'windowMs', 'baselineWindows'] as const satisfies ReadonlyArray<keyof AdaptiveLimitOptions>
const LOOP_LAG_KEYS = ['targetMs', 'intervalMs'] as const
export const PRESSURE_KEYS = ['maxEventLoopDelay', 'maxEventLoopUtilization', 'maxHeapUsedBytes', 'maxRssBytes', 'sampleInterval'] as const satisfies ReadonlyArray<keyof PressureOptions>
const RETRY_AFTER_KEYS = ['fallbackSeconds', 'maxSeconds', 'jitter', 'spreadMs'] as const
export const ROUTE_SHEDDING_KEYS = ['priority', 'maxConcurrent', 'maxQueue', 'maxQueueWaitMs'] as const satisfies ReadonlyArray<keyof RouteSheddingConfig>
const MAX_LIMIT = 1_000_000
// under-pressure samples event-loop delay every 10 ms; a shorter interval
// can hold no sample, which it reports as an infinite delay.
const MIN_SAMPLE_INTERVAL_MS = 50
const DAY_SECONDS = 86_400
const PRIORITY_EXPECTATION = `one of ${PRIORITIES.map((name) => `'${name}'`).join(', ')}`

function count (value: unknown, name: string, fallback: number, min: number): number {
  return optionalIntegerBetween(value, name, fallback, min, MAX_LIMIT, `an integer from ${min} to ${MAX_LIMIT}`)
}

function milliseconds (value: unknown, name: string, fallback: number): number {
  return optionalIntegerBetween(value, name, fallback, 1, MAX_TIMER_MS, 'a positive integer of milliseconds')
}

function section (value: unknown, name: string, known: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {}
  assertOptionsObject(value, name)
  assertKnownKeys(value, known, name)
  return value
}

function resolveLimit (value: unknown): GradientLimitSettings | number | false {
  if (value === false) return false
  if (typeof value === 'number') return count(value, 'loadShedding.limit', 1, 1)
  const options = section(value, 'loadShedding.limit', LIMIT_KEYS)
  const minLimit = count(options.minLimit, 'loadShedding.limit.minLimit', 8, 1)
  const maxLimit = count(options.maxLimit, 'loadShedding.limit.maxLimit', Math.max(1000, minLimit), minLimit)
  return {
    minLimit,
    maxLimit,
    initialLimit: optionalIntegerBetween(options.initialLimit, 'loadShedding.limit.initialLimit', Math.min(maxLimit, Math.max(minLimit, 100)), minLimit, maxLimit, `an integer from minLimit (${minLimit}) to maxLimit (${maxLimit})`),
    tolerance: optionalNumberBetween(options.tolerance, 'loadShedding.limit.tolerance', 1.5, 1, 10),
    smoothing: optionalNumberBetween(options.smoothing, 'loadShedding.limit.smoothing', 0.2, 0.01, 1),
    windowMs: milliseconds(options.windowMs, 'loadShedding.limit.windowMs', 100),
    baselineWindows: count(options.baselineWindows, 'loadShedding.limit.baselineWindows', 100, 1),
  }
}

function resolveLoopLag (value: unknown): LoopLagSettings | false {
  if (value === false) return false
  const options = section(value, 'loadShedding.loopLag', LOOP_LAG_KEYS)
  return {
    targetMs: milliseconds(options.targetMs, 'loadShedding.loopLag.targetMs', 5),
    intervalMs: milliseconds(options.intervalMs, 'loadShedding.loopLag.intervalMs', 100),
  }
}

function resolvePressure (value: unknown): ResolvedPressureOptions | false {
  if (value === false) return false
  const options = section(value, 'loadShedding.pressure', PRESSURE_KEYS)
  const bytes = (key: 'maxHeapUsedBytes' | 'maxRssBytes'): number =>
    optionalIntegerBetween(options[key], `loadShedding.pressure.${key}`, 0, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer of bytes (0 is off)')
  return {
    maxEventLoopDelay: optionalIntegerBetween(options.maxEventLoopDelay, 'loadShedding.pressure.maxEventLoopDelay', 100, 0, MAX_TIMER_MS, 'a non-negative integer of milliseconds (0 is off)'),
    maxEventLoopUtilization: optionalNumberBetween(options.maxEventLoopUtilization, 'loadShedding.pressure.maxEventLoopUtilization', 0, 0, 1),
    maxHeapUsedBytes: bytes('maxHeapUsedBytes'),
    maxRssBytes: bytes('maxRssBytes'),
    sampleInterval: optionalIntegerBetween(options.sampleInterval, 'loadShedding.pressure.sampleInterval', 250, MIN_SAMPLE_INTERVAL_MS, MAX_TIMER_MS, `an integer of milliseconds, at least ${MIN_SAMPLE_INTERVAL_MS}`),
  }
}

function resolveRetryAfter (value: unknown): ResolvedLoadSheddingOptions<unknown>['retryAfter'] {
  const options = section(value, 'loadShedding.retryAfter', RETRY_AFTER_KEYS)
  const maxSeconds = optionalIntegerBetween(options.maxSeconds, 'loadShedding.retryAfter.maxSeconds', 30, 1, DAY_SECONDS, `an integer of seconds from 1 to ${DAY_SECONDS}`)
  return {
    maxSeconds,
    fallbackSeconds: optionalIntegerBetween(options.fallbackSeconds, 'loadShedding.retryAfter.fallbackSeconds', Math.min(1, maxSeconds), 1, maxSeconds, `an integer of seconds from 1 to maxSeconds (${maxSeconds})`),
    jitter: optionalNumberBetween(options.jitter, 'loadShedding.retryAfter.jitter', 1, 0, 10),
    spreadMs: optionalIntegerBetween(options.spreadMs, 'loadShedding.retryAfter.spreadMs', 1000, 0, 60_000, 'an integer of milliseconds from 0 to 60000'),
  }
}

export function resolveLoadSheddingOptions<Request> (options: unknown): ResolvedLoadSheddingOptions<Request> {
  assertOptionsObject(options, 'loadShedding')
  assertKnownKeys(options, LOAD_SHEDDING_KEYS, 'loadShedding')
  const clock = optionalClock(options.clock, 'loadShedding.clock')
  return {
    limit: resolveLimit(options.limit),
    maxQueue: count(options.maxQueue, 'loadShedding.maxQueue', 1000, 0),
    maxQueueWaitMs: milliseconds(options.maxQueueWaitMs, 'loadShedding.maxQueueWaitMs', 50),
    criticalReserve: optionalNumberBetween(options.criticalReserve, 'loadShedding.criticalReserve', 0.1, 0, 1),
    priority: optionalFunction<(request: Request) => Priority>(options.priority, 'loadShedding.priority'),
    loopLag: resolveLoopLag(options.loopLag),
    pressure: resolvePressure(options.pressure),
    retryAfter: resolveRetryAfter(options.retryAfter),
    clock,
    random: optionalFunction<() => number>(options.random, 'loadShedding.random') ?? Math.random,
  }
}

/**
 * Resolves a route's `config.shedding`: `false` exempts the route.
 * @throws FRS_ERR_ROUTE_CONFIG_INVALID naming the route, the key and the value
 */
export function resolveRouteShedding (config: unknown, defaults: { maxQueueWaitMs: number }, route: string): ResolvedRouteShedding | false {
  if (config === false) return false
  if (config === undefined) return { priority: undefined, bulkhead: undefined }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'shedding', 'an object { priority?, maxConcurrent?, maxQueue?, maxQueueWaitMs? } or false', describeValue(config))
  }
  const values = config as Record<string, unknown>
  for (const key of Object.keys(values)) {
    if (!(ROUTE_SHEDDING_KEYS as readonly string[]).includes(key)) {
      throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, `shedding.${key}`, `no such key (known: ${ROUTE_SHEDDING_KEYS.join(', ')})`, describeValue(values[key]))
    }
  }
  const { priority, maxConcurrent, maxQueue, maxQueueWaitMs } = values
  if (priority !== undefined && !isPriority(priority)) {
    throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'shedding.priority', PRIORITY_EXPECTATION, describeValue(priority))
  }
  if (maxConcurrent === undefined) {
    const stray = maxQueue !== undefined ? 'maxQueue' : maxQueueWaitMs !== undefined ? 'maxQueueWaitMs' : undefined
    if (stray !== undefined) throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, `shedding.${stray}`, 'a shedding.maxConcurrent beside it (it sizes the route\'s bulkhead)', describeValue(values[stray]))
    return { priority, bulkhead: undefined }
  }
  const check = (value: unknown, key: string, min: number, max: number, fallback: number): number => {
    if (value === undefined) return fallback
    if (!isIntegerBetween(value, min, max)) throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, `shedding.${key}`, `an integer from ${min} to ${max}`, describeValue(value))
    return value
  }
  return {
    priority,
    bulkhead: {
      maxConcurrent: check(maxConcurrent, 'maxConcurrent', 1, MAX_LIMIT, 1),
      maxQueue: check(maxQueue, 'maxQueue', 0, MAX_LIMIT, 0),
      maxQueueWaitMs: check(maxQueueWaitMs, 'maxQueueWaitMs', 1, MAX_TIMER_MS, defaults.maxQueueWaitMs),
    },
  }
}
