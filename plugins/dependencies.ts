import fp from 'fastify-plugin'
import { channel } from 'node:diagnostics_channel'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import {
  CALL_OPTION_KEYS,
  DEPENDENCY_PROBLEM_TYPES,
  Dependency,
  FETCH_OPTION_KEYS,
  UNBOUNDED_CALLER,
  assertCallOptionKeys,
  callPlan,
  derivedIdempotencyKey,
  fetchPlan,
  isInjectedDependencyError,
  resolveDependenciesOptions,
  resolveFallback,
  toResponse,
  withOwnSignal,
} from '../src/dependencies/index.js'
import type {
  BreakerStateName,
  CallerContext,
  DependencyCallOptions,
  DependencyFailure,
  DependencyOptions,
  DependencyStats,
  InjectedFault,
} from '../src/dependencies/index.js'
import { RedisBreakerFleet } from '../src/dependencies/fleet.js'
import { FRS_ERR_DEPENDENCY_UNKNOWN, FRS_ERR_OPTION_INVALID, FRS_ERR_ROUTE_CONFIG_INVALID } from '../src/errors.js'
import { describeValue } from '../src/describe.js'
import { registerDependencyMetrics } from '../src/metrics/dependencies.js'
import { CHANNEL_NAMES } from '../src/metrics/channels.js'
import type { BreakerStateMessage } from '../src/metrics/channels.js'
import { routeLabel } from './route-options.js'
import { metricsHubOf } from './metrics-hub.js'
import { deadlineOf } from './deadline-lifecycle.js'
import { declareDegradedHeaders, markChaos } from './outcome-marks.js'
import { declareRequestState, stateFor, stateOf } from './request-state.js'
import { registerOnce } from './registered-once.js'

/** Options of the dependencies plugin: one entry per named dependency. */
export type DependenciesOptions = Record<string, DependencyOptions>

/** What `request.dependency(name)` returns: calls to that dependency under its policies, bound to the request's deadline. */
export interface DependencyClient {
  /**
   * `fetch` of a path joined under the dependency's `baseUrl` (or an
   * absolute URL, under it too; anything resolving elsewhere throws
   * `FRS_ERR_DEPENDENCY_URL_OUTSIDE`) with the request's deadline: its signal and the header carrying the
   * shrinking budget. Resolves with the Response unless its status is a
   * failure (5xx and 429 by default), which throws a dependency problem
   * after the retries, or answers from the fallback.
   */
  fetch: (pathOrUrl: string | URL, init?: RequestInit, options?: Omit<DependencyCallOptions<unknown>, 'idempotent'>) => Promise<Response>
  /**
   * Any client: `fn` gets the attempt's signal and the headers to send (the
   * budget, and the Idempotency-Key when the dependency takes them).
   */
  call: <T>(fn: (signal: AbortSignal, headers: Record<string, string>) => Promise<T>, options?: DependencyCallOptions<T>) => Promise<T>
}

/** A breaker's change of state, as listeners and the diagnostics channel see it. */
export interface DependencyStateChange {
  dependency: string
  from: BreakerStateName
  to: BreakerStateName
  /** For `open`: how long it stays open. */
  openMs?: number
  /** The change came from another instance through the fleet state. */
  fromFleet: boolean
}

/** `app.dependencies`. */
export interface Dependencies {
  /** Per dependency name: breaker state, failure rate, calls, rejections, retries, budget left, fallbacks, coalesced. */
  stats: () => Record<string, DependencyStats>
  /** Calls `listener` on every breaker state change; returns the function that stops it. */
  onStateChange: (listener: (change: DependencyStateChange) => void) => () => void
  /** The declared names. */
  readonly names: readonly string[]
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Dependencies this route calls: checked at startup, so a misspelt name fails there and not at the first call. */
    dependencies?: string[]
  }
  interface FastifyRequest {
    /** Calls to a declared dependency, bound to this request's deadline. */
    dependency: (name: string) => DependencyClient
    /** Dependencies that answered this request from a fallback. */
    readonly degraded: readonly string[]
  }
  interface FastifyInstance {
    readonly dependencies: Dependencies
  }
}

/** Published on every breaker state change, for tracers that subscribe without a dependency on this library. */
export const DEPENDENCY_STATE_CHANNEL = CHANNEL_NAMES.breakerStateChanged

const NONE: readonly string[] = Object.freeze([])

/** The request's deadline is the caller's side of its calls; a route without one never gives up. */
function callerOf (request: FastifyRequest, hasDeadlines: boolean): CallerContext {
  return (hasDeadlines ? deadlineOf(request) : null) ?? UNBOUNDED_CALLER
}

/**
 * The idempotency key a keyed call derives from the idempotency key its
 * request holds (claimed by the idempotency capability), so that the
 * request's retry sends its calls with the same keys; undefined when the
 * request holds none, for a random key.
 */
function derivedKeyFor (request: FastifyRequest, dependency: string, call: string): string | undefined {
  const state = stateOf(request)
  const claim = state?.claim
  if (state === undefined || claim == null) return undefined
  const calls = state.keyedCalls ??= new Map()
  const kind = `${dependency}\0${call}`
  const ordinal = calls.get(kind) ?? 0
  calls.set(kind, ordinal + 1)
  return derivedIdempotencyKey(claim.storeKey, dependency, call, ordinal)
}

function markDegraded (request: FastifyRequest, failure: DependencyFailure): void {
  const list = stateFor(request).degraded ??= []
  if (!list.includes(failure.dependency)) list.push(failure.dependency)
  request.log.info({ dependency: failure.dependency, reason: failure.reason }, 'dependency answered from its fallback')
}

/**
 * Named outbound dependencies, each with a circuit breaker, retries under
 * a budget, a bulkhead, fallbacks, coalescing and hedging, called from
 * handlers through `request.dependency(name)` within the request's deadline.
 */
const dependenciesPlugin: FastifyPluginAsync<DependenciesOptions> = async function dependencies (app, options) {
  registerOnce(app, 'fastify-resilience/dependencies')
  const resolved = resolveDependenciesOptions(options)
  const byName = new Map(resolved.map((settings) => [settings.name, new Dependency(settings)]))
  const names = Object.freeze([...byName.keys()])
  const known = names.length === 0 ? '(none)' : names.join(', ')
  if (app.hasDecorator('problemTypes')) {
    for (const [slug, definition] of Object.entries(DEPENDENCY_PROBLEM_TYPES)) app.problemTypes.register(slug, definition)
  }

  const listeners = new Set<(change: DependencyStateChange) => void>()
  const stateChannel = channel(DEPENDENCY_STATE_CHANNEL)
  const fleets: RedisBreakerFleet[] = []
  for (const dependency of byName.values()) {
    dependency.onTransition((transition) => {
      const change: DependencyStateChange = { dependency: dependency.name, from: transition.from, to: transition.to, fromFleet: transition.external }
      if (transition.openMs !== undefined) change.openMs = transition.openMs
      // One line per state change, never one per call.
      const log = { dependency: dependency.name, from: change.from, to: change.to, openMs: change.openMs, fromFleet: change.fromFleet }
      if (change.to === 'open') app.log.warn(log, 'dependency breaker opened')
      else app.log.info(log, change.to === 'closed' ? 'dependency breaker closed' : 'dependency breaker half-open')
      if (stateChannel.hasSubscribers) stateChannel.publish(change satisfies BreakerStateMessage)
      for (const listener of listeners) listener(change)
    })
    const fleet = dependency.settings.fleet
    if (fleet !== undefined && dependency.breaker !== undefined) {
      fleets.push(new RedisBreakerFleet({ ...fleet, name: dependency.name, breaker: dependency.breaker, log: app.log }))
    }
  }

  const hasDeadlines = app.hasRequestDecorator('deadline')
  // Lower-cased once, as Fastify keeps header names and as idempotency compares them.
  const degradedHeaders = new Map(resolved.flatMap((settings) => settings.degradedHeader === undefined ? [] : [[settings.name, settings.degradedHeader.toLowerCase()] as const]))
  declareDegradedHeaders(app, [...new Set(degradedHeaders.values())])

  function lookup (name: string): Dependency {
    const dependency = byName.get(name)
    if (dependency === undefined) throw new FRS_ERR_DEPENDENCY_UNKNOWN(String(name), known)
    return dependency
  }

  declareRequestState(app)
  // A chaos fault's failure that becomes the request's error answer is an
  // answer chaos broke; one the handler caught, or a fallback answered, is not.
  app.addHook('onError', function markInjectedFailure (request, _reply, error, done) {
    if (isInjectedDependencyError(error)) markChaos(request)
    done()
  })

  app.decorateRequest('degraded', {
    getter (this: FastifyRequest): readonly string[] {
      return stateOf(this)?.degraded ?? NONE
    },
  })
  app.decorateRequest('dependency', function dependency (this: FastifyRequest, name: string): DependencyClient {
    const target = lookup(name)
    const request = this
    const where = `dependency('${target.name}')`
    const degraded = (failure: DependencyFailure): void => { markDegraded(request, failure) }
    const idempotencyKeyFor = target.settings.idempotencyKeys === undefined ? undefined : (call: string) => derivedKeyFor(request, target.name, call)
    return {
      // Not async: the call's own promise, mapped, rather than one more
      // layer around it; a mistake in the options still rejects.
      fetch: (pathOrUrl, init, callOptions) => {
        try {
          assertCallOptionKeys(callOptions, FETCH_OPTION_KEYS, `${where}.fetch options`)
          const plan = fetchPlan(target.settings, pathOrUrl, init, {
            fallback: resolveFallback(callOptions?.fallback, `${where}.fetch options.fallback`),
            key: callOptions?.key,
            idempotencyKeyFor,
          })
          const caller = callerOf(request, hasDeadlines)
          return target.execute(plan, init?.signal == null ? caller : withOwnSignal(caller, init.signal), degraded).then(toResponse)
        } catch (error) {
          return Promise.reject(error)
        }
      },
      call: async (fn, callOptions) => {
        if (typeof fn !== 'function') throw new FRS_ERR_OPTION_INVALID(`${where}.call`, 'a function (signal, headers) => promise', describeValue(fn))
        assertCallOptionKeys(callOptions, CALL_OPTION_KEYS, `${where}.call options`)
        const plan = callPlan(target.settings, fn, {
          fallback: resolveFallback(callOptions?.fallback, `${where}.call options.fallback`),
          idempotent: callOptions?.idempotent,
          key: callOptions?.key,
          idempotencyKeyFor,
        })
        return await target.execute(plan, callerOf(request, hasDeadlines), degraded)
      },
    }
  })

  const stats = (): Record<string, DependencyStats> => Object.fromEntries([...byName].map(([name, dependency]) => [name, dependency.stats()]))
  const hub = metricsHubOf(app)
  if (hub !== undefined) registerDependencyMetrics(hub, { stats, onStateChange: (listener) => { listeners.add(listener) } })

  app.decorate('dependencies', {
    stats,
    onStateChange: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    names,
  } satisfies Dependencies)

  app.addHook('onRoute', (routeOptions) => {
    const declared: unknown = routeOptions.config?.dependencies
    if (declared === undefined) return
    if (!Array.isArray(declared)) throw new FRS_ERR_ROUTE_CONFIG_INVALID(routeLabel(routeOptions), 'dependencies', 'an array of declared dependency names', describeValue(declared))
    for (const name of declared) {
      if (typeof name !== 'string' || !byName.has(name)) {
        throw new FRS_ERR_ROUTE_CONFIG_INVALID(routeLabel(routeOptions), 'dependencies', `names of declared dependencies (${known})`, describeValue(name))
      }
    }
  })

  if (degradedHeaders.size > 0) {
    // A callback hook: an async one would cost every request a promise, degraded or not.
    app.addHook('onSend', function markDegraded (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void): void {
      const state = stateOf(request)
      const list = state?.degraded ?? null
      if (state !== undefined && list !== null) {
        for (const name of list) {
          const header = degradedHeaders.get(name)
          if (header === undefined) continue
          const existing = reply.getHeader(header)
          reply.header(header, existing === undefined ? name : `${String(existing)}, ${name}`)
          const marked = state.degradedHeaders ??= []
          if (!marked.includes(header)) marked.push(header)
        }
      }
      done(null, payload)
    })
  }

  app.addHook('onReady', async () => {
    if (app.hasDecorator('chaos')) {
      for (const dependency of byName.values()) {
        dependency.setFaultSource(() => app.chaos.dependencyFault(dependency.name) as InjectedFault | undefined)
      }
    }
    for (const fleet of fleets) fleet.start()
  })
  app.addHook('onClose', async () => {
    for (const fleet of fleets) fleet.stop()
  })
}

/**
 * Outbound dependencies as a Fastify plugin. With {@link problemDetails}
 * registered first, failures answer as `dependency-*` problems; without
 * it, Fastify's error handler answers with their status (and Retry-After).
 */
export const dependencies = fp(dependenciesPlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/dependencies',
})

export type { DependencyCallOptions, DependencyOptions, DependencyStats }
