import type { BudgetState } from '../error-budget/status.js'
import type { Clock } from '../clock.js'
import { wallClock } from '../clock.js'
import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID, FRS_ERR_ROUTE_CONFIG_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, optionalBoolean, optionalClock, optionalFunction, optionalHeaderName, optionalIntegerBetween, optionalNumberBetween } from '../options.js'
import type { ExperimentSpec } from './experiment.js'
import { resolveFault } from './fault.js'
import type { Fault, FaultSpec } from './fault.js'

/** Options of the `chaos` plugin. */
export interface ChaosOptions<Request = unknown> {
  /**
   * Whether faults are injected from the start. Also turned on by the
   * environment variable FASTIFY_RESILIENCE_CHAOS=on.
   * @default false
   */
  enabled?: boolean
  /** Let chaos run when NODE_ENV is 'production'. @default false */
  allowInProduction?: boolean
  /** Experiments added at registration. @default [] */
  experiments?: ExperimentSpec[]
  /** Faults in progress at once (delays and hangs), across everything. @default 100 */
  maxActiveFaults?: number
  /** Seed of the random source of route faults and of experiments without their own. @default random */
  seed?: number
  /** Routes (URL templates) never faulted, besides those with `config.chaos: false`. @default health, metrics and status paths */
  exclude?: string[]
  /**
   * Faults requested per request by header, for authorised callers only:
   * an `authorize(request)` function, or a `secret` to check an HMAC
   * signature. Without either, chaos headers are ignored.
   */
  requests?: {
    /** Whether this request may ask for a fault by header. */
    authorize?: (request: Request) => boolean
    /** Key of the signatures: at least 16 characters, not counting whitespace at either end. */
    secret?: string
    /** Requested rates are capped at this. @default 1 */
    maxRate?: number
    /**
     * How far ahead of now a request authorised by its signature alone may
     * set its `expires`, in milliseconds (at most a day); one further ahead
     * is ignored, so that a leaked signed header stops working soon.
     * @default 3_600_000 (one hour)
     */
    maxExpiryMs?: number
    /** @default 'x-chaos-fault' */
    header?: string
    /** @default 'x-chaos-signature' */
    signatureHeader?: string
  }
  /** Who sees that an error was injected (an `injected` member in the problem). @default 'authorized' */
  revealInjected?: 'authorized' | 'always' | 'never'
  /** Stop chaos when a watched SLO turns to one of these states. `false` turns the watch off. @default { states: ['critical', 'exhausted'] }, every SLO */
  stopOnBudget?: false | { slos?: string[], states?: BudgetState[] }
  /** A hang waits for the request's deadline; without one, for at most this long. @default 30_000 */
  maxHangMs?: number
  /** Time source of experiment time boxes and signed header expiries; reads epoch milliseconds. @default wallClock (Date.now) */
  clock?: Clock
}

/** Per-route faults in `config.chaos`; `false` excludes the route. */
export interface RouteChaosConfig {
  faults: FaultSpec[]
}

export interface ResolvedChaosOptions<Request> {
  enabled: boolean
  allowInProduction: boolean
  experiments: unknown[]
  maxActiveFaults: number
  seed: number
  exclude: Set<string>
  requests: { authorize: ((request: Request) => boolean) | undefined, secret: string | undefined, maxRate: number, maxExpiryMs: number, header: string, signatureHeader: string } | undefined
  revealInjected: 'authorized' | 'always' | 'never'
  stopOnBudget: { slos: Set<string> | undefined, states: Set<BudgetState> } | undefined
  maxHangMs: number
  clock: Clock
}

// Tied to the interface: a key listed here must exist there, and a type test
// checks that every key there is listed (test/types/option-keys.test-d.ts).
export const CHAOS_KEYS = ['enabled', 'allowInProduction', 'experiments', 'maxActiveFaults', 'seed', 'exclude', 'requests', 'revealInjected', 'stopOnBudget', 'maxHangMs', 'clock'] as const satisfies ReadonlyArray<keyof ChaosOptions>
/** Routes chaos never faults unless `exclude` says otherwise: health, readiness, metrics and status routes. */
export const DEFAULT_EXCLUDED_ROUTES = ['/health', '/healthz', '/ready', '/readyz', '/live', '/livez', '/metrics', '/status', '/slo']
const STATES: readonly BudgetState[] = ['ok', 'warning', 'critical', 'exhausted']
export const CHAOS_ENV = 'FASTIFY_RESILIENCE_CHAOS'

function resolveRequests<Request> (value: unknown): ResolvedChaosOptions<Request>['requests'] {
  if (value === undefined) return undefined
  assertOptionsObject(value, 'chaos.requests')
  assertKnownKeys(value, ['authorize', 'secret', 'maxRate', 'maxExpiryMs', 'header', 'signatureHeader'], 'chaos.requests')
  const authorize = optionalFunction<(request: Request) => boolean>(value.authorize, 'chaos.requests.authorize')
  const secret = value.secret
  // Whitespace around a secret (an unset variable padded, a line read from
  // a file) adds nothing anyone would have to guess: it does not count.
  const counted = typeof secret === 'string' ? secret.trim().length : 0
  if (secret !== undefined && (typeof secret !== 'string' || counted < 16)) {
    // The value itself stays out of the message: startup errors end up in logs.
    const got = typeof secret !== 'string' ? describeValue(secret) : counted === secret.length ? `a string of ${secret.length} characters` : `a string of ${secret.length} characters, ${counted} without the whitespace at its ends`
    throw new FRS_ERR_OPTION_INVALID('chaos.requests.secret', 'a string of at least 16 characters, not counting whitespace at either end', got)
  }
  if (authorize === undefined && secret === undefined) throw new FRS_ERR_OPTION_INVALID('chaos.requests', 'an authorize function or a secret: requested faults are for authorised callers only', 'neither')
  return {
    authorize,
    secret: secret as string | undefined,
    maxRate: optionalNumberBetween(value.maxRate, 'chaos.requests.maxRate', 1, 0, 1),
    maxExpiryMs: optionalIntegerBetween(value.maxExpiryMs, 'chaos.requests.maxExpiryMs', 3_600_000, 1, 86_400_000, 'an integer of milliseconds from 1 to 86400000'),
    header: optionalHeaderName(value.header, 'chaos.requests.header', 'x-chaos-fault'),
    signatureHeader: optionalHeaderName(value.signatureHeader, 'chaos.requests.signatureHeader', 'x-chaos-signature'),
  }
}

function resolveStopOnBudget (value: unknown): ResolvedChaosOptions<unknown>['stopOnBudget'] {
  if (value === false) return undefined
  const options = value ?? {}
  assertOptionsObject(options, 'chaos.stopOnBudget')
  assertKnownKeys(options, ['slos', 'states'], 'chaos.stopOnBudget')
  const { slos, states } = options
  if (slos !== undefined && (!Array.isArray(slos) || slos.some((name) => typeof name !== 'string'))) throw new FRS_ERR_OPTION_INVALID('chaos.stopOnBudget.slos', 'an array of SLO names', describeValue(slos))
  const watched = states ?? ['critical', 'exhausted']
  if (!Array.isArray(watched) || watched.length === 0 || watched.some((state) => !STATES.includes(state as BudgetState))) {
    throw new FRS_ERR_OPTION_INVALID('chaos.stopOnBudget.states', `a non-empty array of ${STATES.join(', ')}`, describeValue(watched))
  }
  return { slos: slos === undefined ? undefined : new Set(slos as string[]), states: new Set(watched as BudgetState[]) }
}

export function resolveChaosOptions<Request> (options: unknown, randomSeed: () => number): ResolvedChaosOptions<Request> {
  assertOptionsObject(options, 'chaos')
  assertKnownKeys(options, CHAOS_KEYS, 'chaos')
  const experiments = options.experiments ?? []
  if (!Array.isArray(experiments)) throw new FRS_ERR_OPTION_INVALID('chaos.experiments', 'an array of experiments', describeValue(experiments))
  const exclude = options.exclude ?? DEFAULT_EXCLUDED_ROUTES
  if (!Array.isArray(exclude) || exclude.some((path) => typeof path !== 'string')) throw new FRS_ERR_OPTION_INVALID('chaos.exclude', 'an array of route URLs', describeValue(exclude))
  const seed = options.seed ?? randomSeed()
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw new FRS_ERR_OPTION_INVALID('chaos.seed', 'an integer', describeValue(seed))
  const reveal = options.revealInjected ?? 'authorized'
  if (reveal !== 'authorized' && reveal !== 'always' && reveal !== 'never') throw new FRS_ERR_OPTION_INVALID('chaos.revealInjected', "'authorized', 'always' or 'never'", describeValue(reveal))
  return {
    enabled: optionalBoolean(options.enabled, 'chaos.enabled', false),
    allowInProduction: optionalBoolean(options.allowInProduction, 'chaos.allowInProduction', false),
    experiments,
    maxActiveFaults: optionalIntegerBetween(options.maxActiveFaults, 'chaos.maxActiveFaults', 100, 1, 1_000_000, 'an integer from 1 to 1000000'),
    seed,
    exclude: new Set(exclude as string[]),
    requests: resolveRequests<Request>(options.requests),
    revealInjected: reveal,
    stopOnBudget: resolveStopOnBudget(options.stopOnBudget),
    maxHangMs: optionalIntegerBetween(options.maxHangMs, 'chaos.maxHangMs', 30_000, 1, 600_000, 'an integer of milliseconds up to 600000'),
    clock: optionalClock(options.clock, 'chaos.clock', wallClock),
  }
}

/** Resolves a route's `config.chaos`: its faults, or `false` when the route is excluded. */
export function resolveRouteChaos (config: unknown, route: string): Fault[] | false {
  if (config === false) return false
  if (config === undefined) return []
  if (typeof config !== 'object' || config === null || !Array.isArray((config as { faults?: unknown }).faults) || Object.keys(config).some((key) => key !== 'faults')) {
    throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, 'chaos', 'an object { faults: [...] } or false', describeValue(config))
  }
  return (config as { faults: unknown[] }).faults.map((fault, index) => {
    try {
      return resolveFault(fault, `faults[${index}]`)
    } catch (error) {
      throw new FRS_ERR_ROUTE_CONFIG_INVALID(route, `chaos.faults[${index}]`, 'a valid fault', (error as Error).message.replace(/^fastify-resilience: /, ''))
    }
  })
}
