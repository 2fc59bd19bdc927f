import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID, FRS_ERR_ROUTE_CONFIG_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, isIntegerBetween, optionalBoolean, optionalFunction, optionalHeaderNames, optionalIntegerBetween } from '../options.js'
import { MAX_TIMER_MS } from '../deadline/budget.js'
import { MemoryIdempotencyStore } from './memory-store.js'
import { isCredentialHeader } from './replay-headers.js'
import type { IdempotencyStore } from './store.js'

/** Options of the `idempotency` plugin; `Request` is the framework's request type. */
export interface IdempotencyOptions<Request = unknown> {
  /** Where keys live. @default a {@link MemoryIdempotencyStore} of 10,000 keys */
  store?: IdempotencyStore
  /**
   * The caller's namespace (an account, tenant or API key id): keys of one
   * scope never see another's. Required unless `unscoped` is set.
   */
  scope?: (request: Request) => string | Promise<string>
  /** Allow idempotent routes without a scope: every caller shares one key space. @default false */
  unscoped?: boolean
  /** Methods the key applies to. @default ['POST', 'PATCH'] */
  methods?: string[]
  /** How long a completed response is replayed. @default 86_400_000 (24 h) */
  ttlMs?: number
  /**
   * Lease of an in-flight claim, renewed every third of it while the handler
   * runs; at least 1000. An event-loop stall (or a store call) longer than
   * two thirds of it lets a duplicate take the key over and run beside the
   * handler. @default 10_000
   */
  leaseMs?: number
  /** Time allowed for one store call, also bounded by the request's deadline; and the longest startup waits for a store still connecting. @default 1_000 */
  storeTimeoutMs?: number
  /** Store down or slow: refuse with 503 (`fail-closed`) or run without the key (`fail-open`). @default 'fail-closed' */
  onStoreError?: 'fail-closed' | 'fail-open'
  /** Response headers stored and replayed (lowercase). Credentials can never be listed. */
  replayHeaders?: string[]
  /** Also store 5xx responses instead of releasing the key. @default false */
  storeServerErrors?: boolean
  /** Larger responses are not stored; the key is released. @default 1_048_576 */
  maxBodyBytes?: number
  /**
   * While another request holds the key, wait for its answer (up to the
   * request's deadline, or one lease without deadlines) and replay it,
   * instead of answering 409 at once.
   * @default false
   */
  waitForInFlight?: boolean
  /**
   * What makes two requests with one key "the same". @default a SHA-256 of
   * method, route template and canonical JSON body
   */
  fingerprint?: (request: Request) => string
}

/** Per-route settings in `config.idempotency`; `false` (or absent) leaves the route alone. */
export interface RouteIdempotencyConfig {
  /** A request without a key is refused with 400. @default false */
  required?: boolean
  /** Retention of this route's responses. @default the plugin's ttlMs */
  ttlMs?: number
}

export interface ResolvedIdempotencyOptions<Request = unknown> {
  store: IdempotencyStore
  scope: ((request: Request) => string | Promise<string>) | undefined
  unscoped: boolean
  methods: ReadonlySet<string>
  ttlMs: number
  leaseMs: number
  storeTimeoutMs: number
  onStoreError: 'fail-closed' | 'fail-open'
  replayHeaders: ReadonlySet<string>
  storeServerErrors: boolean
  maxBodyBytes: number
  waitForInFlight: boolean
  fingerprint: ((request: Request) => string) | undefined
}

export interface ResolvedRouteIdempotency {
  required: boolean
  ttlMs: number
}

/** The response headers stored and replayed when `replayHeaders` is not given; never credentials or cookies. */
export const DEFAULT_REPLAY_HEADERS: readonly string[] = Object.freeze([
  'content-type', 'content-language', 'content-location', 'location', 'etag', 'last-modified', 'cache-control', 'link',
])

// Tied to the interface: a key listed here must exist there, and a type test
// checks that every key there is listed (test/types/option-keys.test-d.ts).
export const IDEMPOTENCY_KEYS = ['store', 'scope', 'unscoped', 'methods', 'ttlMs', 'leaseMs', 'storeTimeoutMs', 'onStoreError', 'replayHeaders', 'storeServerErrors', 'maxBodyBytes', 'waitForInFlight', 'fingerprint'] as const satisfies ReadonlyArray<keyof IdempotencyOptions>
const POSITIVE_INTEGER = `a positive integer up to ${MAX_TIMER_MS}`

/*
 * The shortest lease accepted. A lease is renewed every third of it, so a
 * claim is lost when a renewal comes more than two thirds of a lease late:
 * a stalled event loop (a long synchronous task, a major garbage
 * collection) or a slow store call, and a duplicate then takes the key and
 * runs beside the handler. With 1 s that is a stall of about 667 ms, far
 * longer than usual pauses; shorter leases bring it down to the scale of a
 * slow store call (storeTimeoutMs is 1 s by default), and under a few
 * milliseconds the lease runs out between renewals on an idle server
 * (a timer fires at best once a millisecond). Both stores count the lease
 * in whole milliseconds from the call (Redis' PEXPIRE, the memory store's
 * clock), so the bound means the same for each.
 */
const MIN_LEASE_MS = 1000

function positiveInteger (value: unknown, name: string, fallback: number): number {
  return optionalIntegerBetween(value, name, fallback, 1, MAX_TIMER_MS, POSITIVE_INTEGER)
}

export function assertIdempotencyStore (store: unknown): asserts store is IdempotencyStore {
  const methods = ['claim', 'renew', 'complete', 'release'] as const
  if (typeof store !== 'object' || store === null || methods.some((method) => typeof (store as Record<string, unknown>)[method] !== 'function')) {
    throw new FRS_ERR_OPTION_INVALID('idempotency.store', `an IdempotencyStore with the methods ${methods.join(', ')}`, describeValue(store))
  }
  const ready = (store as { ready?: unknown }).ready
  if (ready !== undefined && typeof ready !== 'function') {
    throw new FRS_ERR_OPTION_INVALID('idempotency.store.ready', 'a function (timeoutMs) => Promise<boolean>, or absent', describeValue(ready))
  }
}

export function resolveIdempotencyOptions<Request> (options: unknown): ResolvedIdempotencyOptions<Request> {
  assertOptionsObject(options, 'idempotency')
  assertKnownKeys(options, IDEMPOTENCY_KEYS, 'idempotency')
  const store = options.store ?? new MemoryIdempotencyStore()
  assertIdempotencyStore(store)
  for (const name of ['scope', 'fingerprint'] as const) optionalFunction(options[name], `idempotency.${name}`, 'a function (request) => string')
  const methods = options.methods ?? ['POST', 'PATCH']
  if (!Array.isArray(methods) || methods.some((method) => typeof method !== 'string')) {
    throw new FRS_ERR_OPTION_INVALID('idempotency.methods', 'an array of HTTP method names', describeValue(methods))
  }
  const onStoreError = options.onStoreError ?? 'fail-closed'
  if (onStoreError !== 'fail-closed' && onStoreError !== 'fail-open') {
    throw new FRS_ERR_OPTION_INVALID('idempotency.onStoreError', "'fail-closed' or 'fail-open'", describeValue(onStoreError))
  }
  // An answer never carries a header whose name is not a token: it would never be replayed.
  const lowered = optionalHeaderNames(options.replayHeaders, 'idempotency.replayHeaders') ?? DEFAULT_REPLAY_HEADERS
  const credential = lowered.find(isCredentialHeader)
  if (credential !== undefined) {
    throw new FRS_ERR_OPTION_INVALID('idempotency.replayHeaders', 'header names other than credentials and cookies', describeValue(credential))
  }
  const maxBodyBytes = positiveInteger(options.maxBodyBytes, 'idempotency.maxBodyBytes', 1_048_576)
  // An answer the plugin would store but the memory store cannot keep would
  // run its handler again on every retry: refused here, where it is a typo.
  if (store instanceof MemoryIdempotencyStore && maxBodyBytes > store.maxBytes) {
    throw new FRS_ERR_OPTION_INVALID('idempotency.maxBodyBytes', `at most the memory store's maxBytes (${store.maxBytes}); raise it with new MemoryIdempotencyStore({ maxBytes })`, describeValue(maxBodyBytes))
  }
  return {
    store,
    scope: options.scope as ((request: Request) => string | Promise<string>) | undefined,
    unscoped: optionalBoolean(options.unscoped, 'idempotency.unscoped', false),
    methods: new Set(methods.map((method: string) => method.toUpperCase())),
    ttlMs: positiveInteger(options.ttlMs, 'idempotency.ttlMs', 86_400_000),
    leaseMs: optionalIntegerBetween(options.leaseMs, 'idempotency.leaseMs', 10_000, MIN_LEASE_MS, MAX_TIMER_MS, `an integer number of milliseconds from ${MIN_LEASE_MS} to ${MAX_TIMER_MS}`),
    storeTimeoutMs: positiveInteger(options.storeTimeoutMs, 'idempotency.storeTimeoutMs', 1000),
    onStoreError,
    replayHeaders: new Set(lowered),
    storeServerErrors: optionalBoolean(options.storeServerErrors, 'idempotency.storeServerErrors', false),
    maxBodyBytes,
    waitForInFlight: optionalBoolean(options.waitForInFlight, 'idempotency.waitForInFlight', false),
    fingerprint: options.fingerprint as ((request: Request) => string) | undefined,
  }
}

/**
 * Resolves a route's `config.idempotency`: undefined or false leaves the
 * route alone. A route that turns the key on without a scope is refused
 * unless the plugin was told `unscoped: true`.
 */
export function resolveRouteIdempotency (config: unknown, settings: ResolvedIdempotencyOptions<unknown>, route: string, routeMethods: readonly string[]): ResolvedRouteIdempotency | false {
  if (config === undefined || config === false) return false
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'idempotency', 'an object { required?, ttlMs? } or false', describeValue(config))
  }
  // Keys are read only on the plugin's methods: on a route of none of
  // them, the config would do nothing at all, `required` included. HEAD
  // is let through: Fastify adds a HEAD route, with the same config, to
  // every route that serves GET (a GET and POST route included).
  if (!routeMethods.some((method) => settings.methods.has(method.toUpperCase()) || method.toUpperCase() === 'HEAD')) {
    const covered = [...settings.methods].join(', ')
    throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'idempotency', `a route of a method the plugin's methods option covers (${covered}); add the route's method to methods`, routeMethods.join(', '))
  }
  for (const key of Object.keys(config)) {
    if (key !== 'required' && key !== 'ttlMs') {
      throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, `idempotency.${key}`, 'no such key (known: required, ttlMs)', describeValue((config as Record<string, unknown>)[key]))
    }
  }
  if (settings.scope === undefined && !settings.unscoped) {
    throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'idempotency', 'a scope(request) option on the idempotency plugin (or unscoped: true), so that one caller can never replay another\'s response', 'no scope')
  }
  const { required, ttlMs } = config as { required?: unknown, ttlMs?: unknown }
  if (required !== undefined && typeof required !== 'boolean') throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'idempotency.required', 'a boolean', describeValue(required))
  if (ttlMs !== undefined && !isIntegerBetween(ttlMs, 1, MAX_TIMER_MS)) {
    throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'idempotency.ttlMs', POSITIVE_INTEGER, describeValue(ttlMs))
  }
  return { required: required ?? false, ttlMs: (ttlMs as number | undefined) ?? settings.ttlMs }
}
