import { isRedisClient } from '../redis-client.js'
import type { RedisClient } from '../redis-client.js'
import type { Clock } from '../clock.js'
import { describeValue } from '../describe.js'
import { urlResolver } from './url.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { HEADER_NAME_EXPECTED, isHeaderName } from '../header-name.js'
import {
  assertKnownKeys,
  assertOptionsObject,
  optionalClock,
  optionalFunction,
  optionalHeaderName,
  optionalHeaderNames,
  optionalIntegerBetween,
  optionalNumberBetween,
  optionalString,
} from '../options.js'
import type { BreakerSettings } from './breaker.js'
import type { DependencyFailure } from './failure.js'

/** Opens on a failure rate over a rolling window, once the window holds enough calls. */
export interface RateBreakerOptions {
  /** Share of failed calls (0..1] that opens the breaker. @default 0.5 */
  failureRate?: number
  /** Calls the window must hold before the rate counts, so 5 failures at low traffic do not open it. @default 20 */
  minimumCalls?: number
  /** The rolling window. @default 10_000 */
  windowMs?: number
  /** First open period; doubles with each re-open, up to `maxOpenMs`. @default 5_000 */
  openMs?: number
  /** @default 60_000 */
  maxOpenMs?: number
  /** Probe calls half-open lets through; all must succeed to close. @default 1 */
  probes?: number
  consecutiveFailures?: never
}

/** Opens after this many failures in a row. */
export interface ConsecutiveBreakerOptions {
  consecutiveFailures: number
  failureRate?: never
  minimumCalls?: never
  /** @default 5_000 */
  openMs?: number
  /** @default 60_000 */
  maxOpenMs?: number
  /** @default 1 */
  probes?: number
  /** Window of the failure rate shown in stats. @default 10_000 */
  windowMs?: number
}

/** Retries of a failed attempt, with backoff, under a retry budget. */
export interface RetryOptions {
  /** Attempts in all, the first included. @default 3 */
  attempts?: number
  /** The retry budget, shared by every call to this dependency in the process. */
  budget?: { ratio?: number, minPerSecond?: number, windowMs?: number }
  /** Exponential backoff between attempts. */
  backoff?: { initialMs?: number, maxMs?: number, jitter?: 'full' | 'decorrelated' }
  /** The longest Retry-After honoured; a dependency that asks for a longer wait fails the call at once. @default 30_000 */
  maxDelayMs?: number
}

/** A cap on this dependency's calls in flight, with a bounded wait for a slot. */
export interface BulkheadOptions {
  /** Calls to this dependency in flight at once. */
  maxConcurrent: number
  /** Calls waiting for a slot; beyond it, calls fail at once. @default 0 */
  maxQueue?: number
}

/**
 * What to answer when a call fails or is refused: a value, a function of
 * the failure, or the last good answer to the same call (stale-if-error).
 */
export type FallbackOption<T = unknown> =
  | 'last-good'
  | { lastGood: { maxAgeMs: number } }
  | { value: T }
  | ((failure: DependencyFailure) => T | Promise<T>)

/** Identical calls in flight at once share one call to the dependency. */
export interface CoalesceOptions {
  /** The key under which identical calls share one; by default method and URL. */
  key?: (method: string, url: string) => string
}

/** A second attempt sent when the first is slower than most, the first answer winning. */
export interface HedgeOptions {
  /** Wait before the hedge until this many milliseconds have passed, until enough latencies are known. @default timeoutMs / 2 */
  delayMs?: number
  /** The quantile of observed latency after which a hedge is sent. @default 0.95 */
  percentile?: number
}

/** The breaker state shared by every instance through Redis. */
export interface DependencyFleetOptions {
  /** An ioredis client or cluster shared by every instance. */
  client: RedisClient
  /** @default 'deps:' */
  prefix?: string
  /** How often each instance reads the fleet's breaker state. @default 250 */
  syncMs?: number
}

/** One named dependency's policies. */
export interface DependencyOptions {
  /** Base of relative paths given to `fetch`. */
  baseUrl?: string
  /** Per attempt; never past the request's deadline. @default 1_000 */
  timeoutMs?: number
  /** @default { failureRate: 0.5, minimumCalls: 20, windowMs: 10_000, openMs: 5_000 } */
  breaker?: RateBreakerOptions | ConsecutiveBreakerOptions | false
  /** Retries with backoff under a budget; off unless given. */
  retry?: RetryOptions | false
  /** Concurrency cap and queue; off unless given. */
  bulkhead?: BulkheadOptions | false
  fallback?: FallbackOption
  /** Identical idempotent calls in flight share one. @default false */
  coalesce?: boolean | CoalesceOptions
  /** A second attempt after the observed p95 without an answer (idempotent calls only). @default false */
  hedge?: boolean | HedgeOptions
  /**
   * The dependency accepts Idempotency-Key: POST and PATCH may then be
   * retried, every attempt carrying the same generated key. @default false
   */
  idempotencyKeys?: boolean | { header?: string }
  /** Which response statuses count as failures. @default 5xx and 429 */
  failureStatus?: (status: number) => boolean
  /**
   * Request headers that carry a user's credentials, besides Authorization,
   * Cookie and Proxy-Authorization: calls that send different values are
   * never coalesced nor answered from each other's last good answer.
   * @default []
   */
  credentialHeaders?: string[]
  /** The largest answer buffered to share (coalescing) or keep (last-good); a larger one is neither. @default 1_048_576 */
  maxBodyBytes?: number
  /** A response header listing the dependencies that answered from a fallback. */
  degradedHeader?: string
  /** Share breaker state across instances through Redis. */
  fleet?: DependencyFleetOptions
  /** Time source, injectable for tests. @default monotonic time */
  clock?: Clock
}

export type ResolvedFallback =
  | { kind: 'last-good', maxAgeMs: number }
  | { kind: 'value', value: unknown }
  | { kind: 'function', fn: (failure: DependencyFailure) => unknown }

export interface ResolvedDependency {
  name: string
  baseUrl: URL | undefined
  /** The href a `fetch` path or URL goes to, checked to stay under `baseUrl`. */
  resolveUrl: (pathOrUrl: string | URL) => string
  timeoutMs: number
  breaker: BreakerSettings | undefined
  retry: { attempts: number, budget: { ratio: number, minPerSecond: number, windowMs: number }, initialMs: number, maxMs: number, jitter: 'full' | 'decorrelated', maxDelayMs: number }
  bulkhead: { maxConcurrent: number, maxQueue: number } | undefined
  fallback: ResolvedFallback | undefined
  coalesce: { key: (method: string, url: string) => string } | undefined
  hedge: { delayMs: number, percentile: number } | undefined
  idempotencyKeys: { header: string } | undefined
  failureStatus: (status: number) => boolean
  /** Lower-case names of the headers whose values separate calls' keys: credentials, and those that choose a representation. */
  keyHeaders: readonly string[]
  maxBodyBytes: number
  degradedHeader: string | undefined
  fleet: Required<DependencyFleetOptions> | undefined
  clock: Clock
}

// Tied to the interface: a key listed here must exist there, and a type test
// checks that every key there is listed (test/types/option-keys.test-d.ts).
export const DEPENDENCY_KEYS = [
  'baseUrl', 'timeoutMs', 'breaker', 'retry', 'bulkhead', 'fallback', 'coalesce', 'hedge',
  'idempotencyKeys', 'failureStatus', 'credentialHeaders', 'maxBodyBytes', 'degradedHeader', 'fleet', 'clock',
] as const satisfies ReadonlyArray<keyof DependencyOptions>
const NAME = /^[A-Za-z][\w.-]{0,63}$/
const MAX_MS = 3_600_000
const DEFAULT_LAST_GOOD_MAX_AGE_MS = 300_000
const DEFAULT_CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization']
/**
 * Request headers by which a server chooses the representation it sends:
 * two calls of one URL that differ in them may get different answers (JSON
 * or CSV, English or French), so their values separate keys too.
 */
const NEGOTIATION_HEADERS = ['accept', 'accept-language']

export const defaultFailureStatus = (status: number): boolean => status >= 500 || status === 429
const defaultCoalesceKey = (method: string, url: string): string => `${method} ${url}`

function fail (name: string, expected: string, value: unknown): never {
  throw new FRS_ERR_OPTION_INVALID(name, expected, describeValue(value))
}

function optionalObject (value: unknown, name: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined
  assertOptionsObject(value, name)
  return value
}

function resolveBreaker (value: unknown, where: string): BreakerSettings | undefined {
  if (value === false) return undefined
  const options = optionalObject(value, where) ?? {}
  const consecutive = options.consecutiveFailures !== undefined
  if (consecutive && (options.failureRate !== undefined || options.minimumCalls !== undefined)) {
    fail(where, 'either consecutiveFailures or failureRate with minimumCalls (two modes of the breaker), not both', options)
  }
  assertKnownKeys(options, consecutive
    ? ['consecutiveFailures', 'openMs', 'maxOpenMs', 'probes', 'windowMs']
    : ['failureRate', 'minimumCalls', 'windowMs', 'openMs', 'maxOpenMs', 'probes'], where)
  const openMs = optionalIntegerBetween(options.openMs, `${where}.openMs`, 5_000, 1, MAX_MS, `an integer number of milliseconds from 1 to ${MAX_MS}`)
  const maxOpenMs = optionalIntegerBetween(options.maxOpenMs, `${where}.maxOpenMs`, Math.max(60_000, openMs), openMs, MAX_MS, `an integer number of milliseconds from openMs (${openMs}) to ${MAX_MS}`)
  const probes = optionalIntegerBetween(options.probes, `${where}.probes`, 1, 1, 1000, 'an integer from 1 to 1000')
  const windowMs = optionalIntegerBetween(options.windowMs, `${where}.windowMs`, 10_000, 10, MAX_MS, `an integer number of milliseconds from 10 to ${MAX_MS}`)
  if (consecutive) {
    const failures = optionalIntegerBetween(options.consecutiveFailures, `${where}.consecutiveFailures`, 5, 1, 10_000, 'an integer from 1 to 10000')
    return { trip: { kind: 'consecutive', failures }, windowMs, openMs, maxOpenMs, probes }
  }
  const failureRate = optionalNumberBetween(options.failureRate, `${where}.failureRate`, 0.5, 0, 1)
  if (failureRate === 0) fail(`${where}.failureRate`, 'a number above 0 and at most 1', failureRate)
  const minimumCalls = optionalIntegerBetween(options.minimumCalls, `${where}.minimumCalls`, 20, 1, 1_000_000, 'an integer from 1 to 1000000')
  return { trip: { kind: 'rate', failureRate, minimumCalls }, windowMs, openMs, maxOpenMs, probes }
}

function resolveRetry (value: unknown, where: string): ResolvedDependency['retry'] {
  const off = value === undefined || value === false
  const options = off ? {} : optionalObject(value, where) ?? {}
  assertKnownKeys(options, ['attempts', 'budget', 'backoff', 'maxDelayMs'], where)
  const attempts = off ? 1 : optionalIntegerBetween(options.attempts, `${where}.attempts`, 3, 1, 10, 'an integer from 1 to 10')
  const budget = optionalObject(options.budget, `${where}.budget`) ?? {}
  assertKnownKeys(budget, ['ratio', 'minPerSecond', 'windowMs'], `${where}.budget`)
  const backoff = optionalObject(options.backoff, `${where}.backoff`) ?? {}
  assertKnownKeys(backoff, ['initialMs', 'maxMs', 'jitter'], `${where}.backoff`)
  const jitter = backoff.jitter ?? 'decorrelated'
  if (jitter !== 'full' && jitter !== 'decorrelated') fail(`${where}.backoff.jitter`, "'full' or 'decorrelated'", jitter)
  const initialMs = optionalIntegerBetween(backoff.initialMs, `${where}.backoff.initialMs`, 50, 0, MAX_MS, `an integer number of milliseconds from 0 to ${MAX_MS}`)
  return {
    attempts,
    budget: {
      ratio: optionalNumberBetween(budget.ratio, `${where}.budget.ratio`, 0.1, 0, 10),
      minPerSecond: optionalNumberBetween(budget.minPerSecond, `${where}.budget.minPerSecond`, 5, 0, 1_000_000),
      windowMs: optionalIntegerBetween(budget.windowMs, `${where}.budget.windowMs`, 10_000, 1000, MAX_MS, `an integer number of milliseconds from 1000 to ${MAX_MS}`),
    },
    initialMs,
    maxMs: optionalIntegerBetween(backoff.maxMs, `${where}.backoff.maxMs`, Math.max(1_000, initialMs), initialMs, MAX_MS, `an integer number of milliseconds from initialMs to ${MAX_MS}`),
    jitter,
    maxDelayMs: optionalIntegerBetween(options.maxDelayMs, `${where}.maxDelayMs`, 30_000, 0, MAX_MS, `an integer number of milliseconds from 0 to ${MAX_MS}`),
  }
}

function resolveBulkhead (value: unknown, where: string): ResolvedDependency['bulkhead'] {
  if (value === undefined || value === false) return undefined
  const options = optionalObject(value, where) ?? {}
  assertKnownKeys(options, ['maxConcurrent', 'maxQueue'], where)
  if (options.maxConcurrent === undefined) fail(`${where}.maxConcurrent`, 'an integer from 1 to 100000', undefined)
  return {
    maxConcurrent: optionalIntegerBetween(options.maxConcurrent, `${where}.maxConcurrent`, 1, 1, 100_000, 'an integer from 1 to 100000'),
    maxQueue: optionalIntegerBetween(options.maxQueue, `${where}.maxQueue`, 0, 0, 1_000_000, 'an integer from 0 to 1000000'),
  }
}

/** Checks a fallback option, the dependency's or a single call's. */
export function resolveFallback (value: unknown, where: string): ResolvedFallback | undefined {
  if (value === undefined) return undefined
  if (value === 'last-good') return { kind: 'last-good', maxAgeMs: DEFAULT_LAST_GOOD_MAX_AGE_MS }
  if (typeof value === 'function') return { kind: 'function', fn: value as (failure: DependencyFailure) => unknown }
  const expected = "'last-good', { lastGood: { maxAgeMs } }, { value } or a function"
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(where, expected, value)
  const record = value as Record<string, unknown>
  // The object forms are named by their one key: another is a misspelt form.
  assertKnownKeys(record, ['lastGood', 'value'], where)
  if ('value' in record && Object.keys(record).length === 1) return { kind: 'value', value: record.value }
  if ('lastGood' in record && Object.keys(record).length === 1) {
    const lastGood = optionalObject(record.lastGood, `${where}.lastGood`) ?? {}
    assertKnownKeys(lastGood, ['maxAgeMs'], `${where}.lastGood`)
    return { kind: 'last-good', maxAgeMs: optionalIntegerBetween(lastGood.maxAgeMs, `${where}.lastGood.maxAgeMs`, DEFAULT_LAST_GOOD_MAX_AGE_MS, 1, 7 * 86_400_000, 'an integer number of milliseconds from 1 to a week') }
  }
  return fail(where, expected, value)
}

function resolveFleet (value: unknown, where: string): ResolvedDependency['fleet'] {
  if (value === undefined) return undefined
  const options = optionalObject(value, where) ?? {}
  assertKnownKeys(options, ['client', 'prefix', 'syncMs'], where)
  const client = options.client
  if (!isRedisClient(client)) {
    fail(`${where}.client`, 'an ioredis client or cluster', client)
  }
  return {
    client,
    prefix: optionalString(options.prefix, `${where}.prefix`, 'deps:'),
    syncMs: optionalIntegerBetween(options.syncMs, `${where}.syncMs`, 250, 10, 60_000, 'an integer number of milliseconds from 10 to 60000'),
  }
}

function resolveDependency (name: string, value: unknown, where: string): ResolvedDependency {
  assertOptionsObject(value, where)
  assertKnownKeys(value, DEPENDENCY_KEYS, where)
  let baseUrl: URL | undefined
  if (value.baseUrl !== undefined) {
    if (typeof value.baseUrl !== 'string' || !URL.canParse(value.baseUrl)) fail(`${where}.baseUrl`, 'an absolute URL', value.baseUrl)
    baseUrl = new URL(value.baseUrl)
    // Credentials in the URL would be sent with every call and show in logs; other schemes are not HTTP.
    if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') fail(`${where}.baseUrl`, 'an http: or https: URL', value.baseUrl)
    if (baseUrl.username !== '' || baseUrl.password !== '') fail(`${where}.baseUrl`, 'a URL without credentials (send them as headers)', `${baseUrl.protocol}//…@${baseUrl.host}`)
    // Paths given to fetch replace the query and fragment: they would be
    // dropped from every call, an API key in them with no sign of it.
    if (baseUrl.search !== '' || baseUrl.hash !== '') fail(`${where}.baseUrl`, 'a URL without a query string or fragment (give the query with each call\'s path, and keys as headers)', `${baseUrl.origin}${baseUrl.pathname}${baseUrl.search === '' ? '' : '?…'}${baseUrl.hash === '' ? '' : '#…'}`)
  }
  const timeoutMs = optionalIntegerBetween(value.timeoutMs, `${where}.timeoutMs`, 1_000, 1, MAX_MS, `an integer number of milliseconds from 1 to ${MAX_MS}`)
  const coalesceValue = value.coalesce ?? false
  let coalesce: ResolvedDependency['coalesce']
  if (coalesceValue !== false) {
    const options = coalesceValue === true ? {} : optionalObject(coalesceValue, `${where}.coalesce`) ?? {}
    assertKnownKeys(options, ['key'], `${where}.coalesce`)
    coalesce = { key: optionalFunction<(method: string, url: string) => string>(options.key, `${where}.coalesce.key`) ?? defaultCoalesceKey }
  }
  const hedgeValue = value.hedge ?? false
  let hedge: ResolvedDependency['hedge']
  if (hedgeValue !== false) {
    const options = hedgeValue === true ? {} : optionalObject(hedgeValue, `${where}.hedge`) ?? {}
    assertKnownKeys(options, ['delayMs', 'percentile'], `${where}.hedge`)
    hedge = {
      delayMs: optionalIntegerBetween(options.delayMs, `${where}.hedge.delayMs`, Math.max(1, Math.floor(timeoutMs / 2)), 1, MAX_MS, `an integer number of milliseconds from 1 to ${MAX_MS}`),
      percentile: optionalNumberBetween(options.percentile, `${where}.hedge.percentile`, 0.95, 0.5, 0.999),
    }
  }
  const keysValue = value.idempotencyKeys ?? false
  let idempotencyKeys: ResolvedDependency['idempotencyKeys']
  if (keysValue !== false) {
    const options = keysValue === true ? {} : optionalObject(keysValue, `${where}.idempotencyKeys`) ?? {}
    assertKnownKeys(options, ['header'], `${where}.idempotencyKeys`)
    idempotencyKeys = { header: optionalHeaderName(options.header, `${where}.idempotencyKeys.header`, 'idempotency-key') }
  }
  const credentialHeaders = [...new Set([...DEFAULT_CREDENTIAL_HEADERS, ...optionalHeaderNames(value.credentialHeaders, `${where}.credentialHeaders`) ?? []])]
  const degradedHeader = value.degradedHeader
  if (degradedHeader !== undefined && !isHeaderName(degradedHeader)) fail(`${where}.degradedHeader`, HEADER_NAME_EXPECTED, degradedHeader)
  if (degradedHeader !== undefined && isMeaningfulResponseHeader(degradedHeader)) fail(`${where}.degradedHeader`, 'a header name of its own, such as x-degraded (the names of the dependencies are added to it)', degradedHeader)
  return {
    name,
    baseUrl,
    resolveUrl: urlResolver(name, baseUrl),
    timeoutMs,
    breaker: resolveBreaker(value.breaker, `${where}.breaker`),
    retry: resolveRetry(value.retry, `${where}.retry`),
    bulkhead: resolveBulkhead(value.bulkhead, `${where}.bulkhead`),
    fallback: resolveFallback(value.fallback, `${where}.fallback`),
    coalesce,
    hedge,
    idempotencyKeys,
    failureStatus: optionalFunction<(status: number) => boolean>(value.failureStatus, `${where}.failureStatus`) ?? defaultFailureStatus,
    keyHeaders: [...credentialHeaders, ...NEGOTIATION_HEADERS],
    maxBodyBytes: optionalIntegerBetween(value.maxBodyBytes, `${where}.maxBodyBytes`, 1_048_576, 0, 2 ** 31 - 1, 'an integer number of bytes from 0 to 2147483647'),
    degradedHeader,
    fleet: resolveFleet(value.fleet, `${where}.fleet`),
    clock: optionalClock(value.clock, `${where}.clock`),
  }
}

/** Checks every named dependency at registration; a mistake throws naming the option. */
export function resolveDependenciesOptions (options: unknown, where = 'dependencies'): ResolvedDependency[] {
  assertOptionsObject(options, where)
  return Object.entries(options).map(([name, value]) => {
    if (!NAME.test(name)) fail(where, 'dependency names of letters, digits, ".", "_" or "-", starting with a letter', name)
    return resolveDependency(name, value, `${where}.${name}`)
  })
}

// Headers a response, its framing or its caches already give a meaning
// to: the dependencies' names added to one of them would change it.
const MEANINGFUL_RESPONSE_HEADERS = new Set([
  'age', 'allow', 'authorization', 'cache-control', 'connection', 'cookie', 'date', 'etag', 'expires', 'idempotent-replayed', 'keep-alive',
  'last-modified', 'link', 'location', 'proxy-authenticate', 'retry-after', 'server', 'set-cookie', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'vary', 'www-authenticate',
])

function isMeaningfulResponseHeader (name: string): boolean {
  const lower = name.toLowerCase()
  return lower.startsWith('content-') || MEANINGFUL_RESPONSE_HEADERS.has(lower)
}
