import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { HEADER_NAME_EXPECTED, isHeaderName } from '../header-name.js'
import { assertKnownKeys, assertOptionsObject } from '../options.js'
import { normalSample } from './random.js'

/** Which requests a fault applies to; every given condition must hold. */
export interface FaultMatch {
  /** e.g. ['POST']. */
  methods?: string[]
  /** The route's URL template or the request path; a trailing `*` matches a prefix. */
  path?: string
  /** A header that must be present, with this value if one is given. */
  header?: { name: string, value?: string }
  /** A declared dependency's name: the fault applies to that dependency's calls, not to requests. */
  dependency?: string
}

interface FaultBase {
  /** Share of matching requests that get the fault, from 0 to 1. */
  rate: number
  match?: FaultMatch
}

/** Declared faults: added latency, an error answer, a thrown exception, a dropped connection, a hang. */
export type FaultSpec =
  | (FaultBase & { type: 'latency', ms: number })
  | (FaultBase & { type: 'latency', minMs: number, maxMs: number })
  | (FaultBase & { type: 'latency', meanMs: number, stdDevMs: number })
  | (FaultBase & { type: 'error', status: number, detail?: string })
  | (FaultBase & { type: 'exception', message?: string })
  | (FaultBase & { type: 'abort' })
  | (FaultBase & { type: 'hang' })

/** The kinds of fault: `latency`, `error`, `exception`, `abort` and `hang`. */
export type FaultType = FaultSpec['type']
/** Every kind of fault, in the order the docs list them. */
export const FAULT_TYPES: readonly FaultType[] = ['latency', 'error', 'exception', 'abort', 'hang']

/** A checked fault, ready to be drawn. */
export interface Fault {
  type: FaultType
  rate: number
  match: FaultMatch | undefined
  /** For latency: a delay in milliseconds drawn from the fault's distribution. */
  delayMs: (random: () => number) => number
  status: number
  detail: string | undefined
  message: string | undefined
  /** The fault as declared, for logs. */
  describe: string
}

const MAX_DELAY_MS = 600_000
// Tied to the interface as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const MATCH_KEYS = ['methods', 'path', 'header', 'dependency'] as const satisfies ReadonlyArray<keyof FaultMatch>
export const HEADER_MATCH_KEYS = ['name', 'value'] as const satisfies ReadonlyArray<keyof NonNullable<FaultMatch['header']>>

function fail (where: string, expected: string, value: unknown): never {
  throw new FRS_ERR_OPTION_INVALID(where, expected, describeValue(value))
}

function milliseconds (value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_DELAY_MS) fail(where, `a number of milliseconds from 0 to ${MAX_DELAY_MS}`, value)
  return value
}

function checkMatch (value: unknown, where: string): FaultMatch | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null) fail(where, 'an object { methods?, path?, header?, dependency? }', value)
  assertKnownKeys(value as Record<string, unknown>, MATCH_KEYS, where)
  const { methods, path, header, dependency } = value as Record<string, unknown>
  if (dependency !== undefined && (typeof dependency !== 'string' || dependency === '')) fail(`${where}.dependency`, 'a dependency name', dependency)
  if (methods !== undefined && (!Array.isArray(methods) || methods.some((method) => typeof method !== 'string'))) fail(`${where}.methods`, 'an array of method names', methods)
  if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) fail(`${where}.path`, 'a path starting with /', path)
  if (header !== undefined) {
    assertOptionsObject(header, `${where}.header`)
    // A misspelt value (values) would otherwise match the header with any value.
    assertKnownKeys(header, HEADER_MATCH_KEYS, `${where}.header`)
    const { name, value: headerValue } = header
    // A fault matching a name no request can carry would never be injected.
    if (!isHeaderName(name)) fail(`${where}.header.name`, HEADER_NAME_EXPECTED, name)
    if (headerValue !== undefined && typeof headerValue !== 'string') fail(`${where}.header.value`, 'a string', headerValue)
  }
  return {
    ...(methods === undefined ? {} : { methods: (methods as string[]).map((method) => method.toUpperCase()) }),
    ...(path === undefined ? {} : { path: path as string }),
    ...(dependency === undefined ? {} : { dependency: dependency as string }),
    ...(header === undefined ? {} : { header: { name: (header as { name: string }).name.toLowerCase(), ...((header as { value?: string }).value === undefined ? {} : { value: (header as { value: string }).value }) } }),
  }
}

const KEYS: Record<FaultType, readonly string[]> = {
  latency: ['ms', 'minMs', 'maxMs', 'meanMs', 'stdDevMs'],
  error: ['status', 'detail'],
  exception: ['message'],
  abort: [],
  hang: [],
}

/**
 * Checks a declared fault. Rates outside 0..1 (NaN included), error
 * statuses outside 400..599 and unknown types fail with a message that
 * names the field (FRS_ERR_OPTION_INVALID); a key the fault's type does
 * not know, with one that names the known ones (FRS_ERR_OPTION_UNKNOWN).
 */
export function resolveFault (spec: unknown, where: string): Fault {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) fail(where, 'an object { type, rate, … }', spec)
  const values = spec as Record<string, unknown>
  const type = values.type
  if (typeof type !== 'string' || !(FAULT_TYPES as readonly string[]).includes(type)) fail(`${where}.type`, `one of ${FAULT_TYPES.map((name) => `'${name}'`).join(', ')}`, type)
  const faultType = type as FaultType
  // The type named beside the place: the keys known depend on it.
  assertKnownKeys(values, ['type', 'rate', 'match', ...KEYS[faultType]], `${where} (type '${faultType}')`)
  const rate = values.rate
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) fail(`${where}.rate`, 'a number from 0 to 1', rate)
  let delayMs: Fault['delayMs'] = () => 0
  let describe: string = faultType
  if (faultType === 'latency') {
    if (values.ms !== undefined) {
      const ms = milliseconds(values.ms, `${where}.ms`)
      delayMs = () => ms
      describe = `latency ${ms} ms`
    } else if (values.minMs !== undefined || values.maxMs !== undefined) {
      const min = milliseconds(values.minMs, `${where}.minMs`)
      const max = milliseconds(values.maxMs, `${where}.maxMs`)
      if (max < min) fail(`${where}.maxMs`, `at least minMs (${min})`, max)
      delayMs = (random) => min + random() * (max - min)
      describe = `latency ${min}–${max} ms`
    } else if (values.meanMs !== undefined) {
      const mean = milliseconds(values.meanMs, `${where}.meanMs`)
      const stdDev = milliseconds(values.stdDevMs, `${where}.stdDevMs`)
      delayMs = (random) => Math.min(MAX_DELAY_MS, Math.max(0, normalSample(random, mean, stdDev)))
      describe = `latency ~N(${mean}, ${stdDev}) ms`
    } else {
      fail(where, 'a latency fault with ms, minMs and maxMs, or meanMs and stdDevMs', 'none of them')
    }
  }
  const status = values.status ?? 500
  if (faultType === 'error') {
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) fail(`${where}.status`, 'an HTTP error status from 400 to 599', status)
    describe = `error ${status as number}`
  }
  if (values.detail !== undefined && typeof values.detail !== 'string') fail(`${where}.detail`, 'a string', values.detail)
  if (values.message !== undefined && typeof values.message !== 'string') fail(`${where}.message`, 'a string', values.message)
  return {
    type: faultType,
    rate,
    match: checkMatch(values.match, `${where}.match`),
    delayMs,
    status: status as number,
    detail: values.detail as string | undefined,
    message: values.message as string | undefined,
    describe,
  }
}

/** What a fault's match looks at. */
export interface RequestFacts {
  method: string
  /** The route's URL template. */
  route: string
  /** The request path, without the query. */
  path: string
  headers: Record<string, string | string[] | undefined>
  /** Set for a call to a dependency, not a request. */
  dependency?: string
}

function pathMatches (pattern: string, facts: RequestFacts): boolean {
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1)
    return facts.path.startsWith(prefix) || facts.route.startsWith(prefix)
  }
  return facts.path === pattern || facts.route === pattern
}

export function matches (fault: Fault, facts: RequestFacts): boolean {
  const match = fault.match
  // A fault for a dependency's calls never hits a request, and the other way round.
  if (match?.dependency !== facts.dependency) return false
  if (match === undefined) return true
  if (match.methods !== undefined && !match.methods.includes(facts.method)) return false
  if (match.path !== undefined && !pathMatches(match.path, facts)) return false
  if (match.header !== undefined) {
    const value = facts.headers[match.header.name]
    if (value === undefined) return false
    if (match.header.value !== undefined && value !== match.header.value) return false
  }
  return true
}
