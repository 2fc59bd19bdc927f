import { FRS_ERR_OPTION_INVALID, FRS_ERR_OPTION_UNKNOWN } from './errors.js'
import { describeValue } from './describe.js'
import { monotonicClock } from './clock.js'
import type { Clock } from './clock.js'
import { HEADER_NAME_EXPECTED, isHeaderName } from './header-name.js'

/*
 * Small checks shared by every capability's option resolver. Each throws a
 * TypeError naming the option, what it expects and what it received.
 */

export function assertOptionsObject (value: unknown, where: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FRS_ERR_OPTION_INVALID(where, 'an object', describeValue(value))
  }
}

export function assertKnownKeys (value: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new FRS_ERR_OPTION_UNKNOWN(key, where, known.join(', '))
  }
}

export function optionalBoolean (value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new FRS_ERR_OPTION_INVALID(name, 'a boolean', describeValue(value))
  return value
}

export function optionalString (value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string') throw new FRS_ERR_OPTION_INVALID(name, 'a string', describeValue(value))
  return value
}

// A Prometheus metric name is [a-zA-Z_:][a-zA-Z0-9_:]*: a prefix is its start, or nothing.
const METRIC_PREFIX = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/

/**
 * An optional prefix of Prometheus metric names, '' by default. Another
 * would make every name it starts invalid: the scrape, and the rules and
 * dashboards written for it, would be refused by Prometheus.
 */
export function optionalMetricPrefix (value: unknown, name: string): string {
  const prefix = optionalString(value, name, '')
  if (!METRIC_PREFIX.test(prefix)) throw new FRS_ERR_OPTION_INVALID(name, 'a Prometheus metric name prefix', describeValue(prefix))
  return prefix
}

/**
 * An optional HTTP header name, lower-cased as Node keeps the names of a
 * request's headers.
 */
export function optionalHeaderName (value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback
  if (!isHeaderName(value)) throw new FRS_ERR_OPTION_INVALID(name, HEADER_NAME_EXPECTED, describeValue(value))
  return value.toLowerCase()
}

/**
 * An optional list of HTTP header names, lower-cased as Node keeps them;
 * undefined when not given.
 */
export function optionalHeaderNames (value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value)) throw new FRS_ERR_OPTION_INVALID(name, 'an array of header names', describeValue(value))
  return value.map((each: unknown) => {
    if (!isHeaderName(each)) throw new FRS_ERR_OPTION_INVALID(name, `an array of which each is ${HEADER_NAME_EXPECTED}`, describeValue(each))
    return each.toLowerCase()
  })
}

/** An integer from `min` to `max`, both included. */
export function isIntegerBetween (value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}

/** An optional integer from `min` to `max`; `expected` words the error message. */
export function optionalIntegerBetween (value: unknown, name: string, fallback: number, min: number, max: number, expected: string): number {
  if (value === undefined) return fallback
  if (!isIntegerBetween(value, min, max)) throw new FRS_ERR_OPTION_INVALID(name, expected, describeValue(value))
  return value
}

/** An optional finite number from `min` to `max`, both included. */
export function optionalNumberBetween (value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new FRS_ERR_OPTION_INVALID(name, `a number from ${min} to ${max}`, describeValue(value))
  }
  return value
}

/** An optional function; `expected` words the error message. */
export function optionalFunction<F> (value: unknown, name: string, expected = 'a function'): F | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') throw new FRS_ERR_OPTION_INVALID(name, expected, describeValue(value))
  return value as F
}

/** An optional time source, monotonic time by default. */
export function optionalClock (value: unknown, name: string, fallback: Clock = monotonicClock): Clock {
  if (value === undefined) return fallback
  if (typeof value !== 'object' || value === null || typeof (value as Partial<Clock>).now !== 'function') {
    throw new FRS_ERR_OPTION_INVALID(name, 'an object with a now() method', describeValue(value))
  }
  return value as Clock
}
