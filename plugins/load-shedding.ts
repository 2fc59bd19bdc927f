// Kept in the emitted declarations, so an app that registers load shedding
// gets @fastify/under-pressure's app.memoryUsage() and app.isUnderPressure()
// typed without importing that package itself.
/// <reference types="@fastify/under-pressure" preserve="true" />
import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { describeValue } from '../src/describe.js'
import { FRS_ERR_OPTION_INVALID } from '../src/errors.js'
import {
  AdmissionController,
  FixedLimit,
  GradientLimit,
  LOAD_SHEDDING_PROBLEM_TYPES,
  LoopLagDetector,
  PressureLadder,
  RefusalSpread,
  SheddingCounters,
  ShedSummary,
  isPriority,
  resolveLoadSheddingOptions,
  resolveRouteShedding,
  retryAfterSeconds,
  pressureSignal,
  shedDetail,
} from '../src/load-shedding/index.js'
import type {
  BulkheadStats,
  LoadSheddingOptions as LoadSheddingOptionsOf,
  LoadSheddingStats,
  Priority,
  ResolvedLoadSheddingOptions,
  RouteSheddingConfig,
  ShedReason,
  Waiter,
} from '../src/load-shedding/index.js'
import { registerSheddingMetrics } from '../src/metrics/load-shedding.js'
import type { PoolReading } from '../src/metrics/load-shedding.js'
import { shedChannel } from '../src/metrics/channels.js'
import type { ShedMessage } from '../src/metrics/channels.js'
import { answersOnlyOptions, appendRouteHook, routeLabel, servesWebsockets, skippingUpgrades } from './route-options.js'
import type { RouteConfigObject } from './route-options.js'
import { markShed } from './outcome-marks.js'
import { declareRequestState } from './request-state.js'
import { metricsHubOf } from './metrics-hub.js'
import { registerOnce } from './registered-once.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's priority and bulkhead; `false` exempts it from shedding (health checks). */
    shedding?: RouteConfigObject<RouteSheddingConfig> | false
  }
  interface FastifyInstance {
    /** The load shedder's counters. */
    readonly loadShedding: {
      stats: () => LoadSheddingStats
      /** The process signal over its threshold now (as sampled by @fastify/under-pressure), or undefined; always undefined with `pressure: false`. */
      pressure: () => string | undefined
    }
  }
}

/** Everything the per-route hooks share. */
interface Shedder {
  settings: ResolvedLoadSheddingOptions<FastifyRequest>
  counters: SheddingCounters
  lag: LoopLagDetector | undefined
  ladder: PressureLadder | undefined
  hasDeadlines: boolean
  priorityOf: (request: FastifyRequest) => Priority
  summary: ShedSummary
  /** Where refusals for lag or pressure wait for their moment. */
  spread: RefusalSpread
  /** Set when metrics are on: a queued request's wait, once it is let in or shed. */
  observeQueueWait: ((seconds: number) => void) | undefined
}

interface RouteAdmission {
  priority: Priority | undefined
  controller: AdmissionController
  /** Set for a bulkhead: the route it guards. */
  bulkhead: string | undefined
  /** The route's template with its method, for events. */
  label: string
}

function createLimit (limit: ResolvedLoadSheddingOptions<unknown>['limit']): FixedLimit | GradientLimit {
  if (limit === false) return new FixedLimit(Number.MAX_SAFE_INTEGER)
  if (typeof limit === 'number') return new FixedLimit(limit)
  return new GradientLimit(limit)
}

/** Holds a slot until the response is over, whether it finished or the connection dropped. */
function hold (reply: FastifyReply, controller: AdmissionController, startedAt: number, shedder: Shedder): void {
  const inFlightAtStart = controller.inFlight
  shedder.counters.admitted++
  reply.raw.on('close', () => controller.release(startedAt, inFlightAtStart))
}

function shed (request: FastifyRequest, reply: FastifyReply, reason: ShedReason, priority: Priority, route: RouteAdmission, shedder: Shedder, signal?: string): void {
  const { settings, counters } = shedder
  const now = settings.clock.now()
  const { controller } = route
  counters.recordShed(reason, priority)
  markShed(request)
  shedder.summary.noteShed(now)
  const seconds = retryAfterSeconds(controller.expectedWaitMs(priority), settings.retryAfter, settings.random)
  request.log.debug({ reason, priority, retryAfter: seconds }, 'request shed')
  if (shedChannel.hasSubscribers) shedChannel.publish({ request, route: route.label, reason, priority, retryAfterSeconds: seconds } satisfies ShedMessage<FastifyRequest>)
  const facts = { reason, priority, limit: controller.limit, inFlight: controller.inFlight, queued: controller.queued, maxQueueWaitMs: settings.maxQueueWaitMs }
  reply.header('retry-after', String(seconds))
  const detail = shedDetail({ ...facts, ...(route.bulkhead === undefined ? {} : { route: route.bulkhead }), ...(signal === undefined ? {} : { signal }) })
  const send = (): void => {
    // Answered meanwhile: the deadline's 504, or the client is gone.
    if (!reply.sent) reply.problem({ type: 'overloaded', detail, reason, priority })
  }
  // Slots free by themselves whenever their clients come back; a turn of
  // the event loop does not, so the clients refused in one turn are
  // answered a service time apart, and their retries do not all land in
  // one turn again.
  if (reason !== 'pressure') send()
  else shedder.spread.later(send, Math.max(controller.meanLatencyMs, SPREAD_STEP_FLOOR_MS), spreadCapMs(request, shedder), settings.random())
}

/** The spacing of a turn's refusals before any admitted request has finished, and the least it is: a millisecond. */
const SPREAD_STEP_FLOOR_MS = 1

/** The longest delay before a refusal for lag or pressure: `spreadMs`, within half the request's remaining deadline. */
function spreadCapMs (request: FastifyRequest, shedder: Shedder): number {
  const { spreadMs } = shedder.settings.retryAfter
  if (spreadMs === 0 || !shedder.hasDeadlines) return spreadMs
  return Math.min(spreadMs, request.deadline.remainingMs() / 2)
}

/**
 * Puts a request that found no slot in line, or sheds it. Kept out of the
 * admission hook: the closures a waiter needs would otherwise make every
 * request, admitted at once or not, allocate the variables they share.
 */
function wait (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, priority: Priority, now: number, route: RouteAdmission, shedder: Shedder): void {
  const { settings } = shedder
  const { controller } = route
  // A client that leaves while waiting gives its place in line back at once.
  const leave = (): void => controller.cancel(waiter)
  const observeWait = shedder.observeQueueWait
  const waiter: Waiter = {
    priority,
    expiresAt: 0,
    expiryReason: 'queue-timeout',
    grant () {
      reply.raw.removeListener('close', leave)
      observeWait?.((settings.clock.now() - now) / 1000)
      // Answered meanwhile (its deadline passed), or its client is gone: nothing to run.
      if (reply.sent || request.socket?.destroyed === true) {
        controller.abandon()
        return
      }
      hold(reply, controller, settings.clock.now(), shedder)
      done()
    },
    shed (reason) {
      reply.raw.removeListener('close', leave)
      observeWait?.((settings.clock.now() - now) / 1000)
      if (!reply.sent) shed(request, reply, reason, priority, route, shedder)
    },
  }
  const budgetMs = shedder.hasDeadlines ? request.deadline.remainingMs() : undefined
  const outcome = controller.enqueue(waiter, budgetMs, now)
  if (outcome.kind === 'shed') shed(request, reply, outcome.reason, priority, route, shedder)
  else reply.raw.once('close', leave)
}

function createAdmissionHook (route: RouteAdmission, shedder: Shedder) {
  // Held here, not read from `route` on each request: with a thousand
  // routes, each object of a route's is a miss in the cache on a request
  // of its, and `route` is read only when a request is shed or waits. What
  // every route shares is read from `shedder`, hot, rather than held in
  // slots of this scope's own, so that the scope fits in a line or two.
  const { priority: routePriority, controller } = route
  return function sheddingOnRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const { settings, lag, ladder } = shedder
    // The client left during an earlier hook: its close event has passed, so a slot taken now would never come back.
    if (request.socket?.destroyed === true) return
    const priority = routePriority ?? shedder.priorityOf(request)
    const now = settings.clock.now()
    if (lag?.shouldShed(priority, now) === true) {
      shed(request, reply, 'pressure', priority, route, shedder, `event-loop lag for ${Math.round(lag.laggingForMs(now))} ms`)
      return
    }
    if (ladder?.sheds(priority, now) === true) {
      shed(request, reply, 'pressure', priority, route, shedder, ladder.signal)
      return
    }
    if (controller.tryAcquire(priority)) {
      hold(reply, controller, now, shedder)
      done()
      return
    }
    wait(request, reply, done, priority, now, route, shedder)
  }
}

function createPriorityOf (settings: ResolvedLoadSheddingOptions<FastifyRequest>, app: FastifyInstance): (request: FastifyRequest) => Priority {
  const choose = settings.priority
  if (choose === undefined) return () => 'normal'
  let warned = false
  const warnOnce = (details: object, message: string): void => {
    if (warned) return
    warned = true
    app.log.error(details, message)
  }
  return function priorityOf (request) {
    try {
      const priority = choose(request)
      if (isPriority(priority)) return priority
      warnOnce({ returned: describeValue(priority) }, 'loadShedding.priority() returned an unknown class; such requests count as normal (logged once)')
    } catch (error) {
      warnOnce({ err: error }, 'loadShedding.priority() threw; such requests count as normal (logged once)')
    }
    return 'normal'
  }
}

/**
 * Admission control in front of the handlers: a concurrency limit that
 * adapts to latency, a bounded wait queue, priority classes shed lowest
 * first, per-route bulkheads, and process pressure. A shed request gets a
 * 503 `overloaded` problem with Retry-After.
 */
const loadSheddingPlugin: FastifyPluginAsync<LoadSheddingOptions> = async function loadShedding (app, options) {
  registerOnce(app, 'fastify-resilience/load-shedding')
  const settings = resolveLoadSheddingOptions<FastifyRequest>(options)
  for (const [slug, definition] of Object.entries(LOAD_SHEDDING_PROBLEM_TYPES)) app.problemTypes.register(slug, definition)

  let ladder: PressureLadder | undefined
  if (settings.pressure !== false) {
    if (app.hasDecorator('isUnderPressure')) {
      throw new FRS_ERR_OPTION_INVALID('loadShedding.pressure', 'false when @fastify/under-pressure is registered separately: load shedding registers it itself and takes its thresholds here', 'an app that already has @fastify/under-pressure')
    }
    const { sampleInterval, ...thresholds } = settings.pressure
    // Registered without thresholds, under-pressure only samples: it adds
    // no hook of its own, and the samples are judged here, once per step.
    await app.register(underPressure, { sampleInterval })
    ladder = new PressureLadder(sampleInterval, () => pressureSignal(app.memoryUsage(), thresholds))
  }

  declareRequestState(app)
  const counters = new SheddingCounters()
  const shared = new AdmissionController({
    limit: createLimit(settings.limit),
    maxQueue: settings.maxQueue,
    maxQueueWaitMs: settings.maxQueueWaitMs,
    criticalReserve: settings.criticalReserve,
    reasons: { full: 'concurrency', timeout: 'queue-timeout' },
    clock: settings.clock,
  })
  const bulkheads = new Map<string, AdmissionController>()
  const bulkheadOf = new WeakMap<RouteSheddingConfig, { controller: AdmissionController, label: string }>()
  const shedder: Shedder = {
    settings,
    counters,
    lag: settings.loopLag === false ? undefined : new LoopLagDetector(settings.loopLag, () => settings.clock.now()),
    ladder,
    hasDeadlines: app.hasRequestDecorator('deadline'),
    priorityOf: createPriorityOf(settings, app),
    observeQueueWait: undefined,
    summary: new ShedSummary(counters, settings.clock, (line) => app.log.warn(line, 'shedding load')),
    spread: new RefusalSpread(),
  }

  const thresholds = settings.pressure === false ? undefined : settings.pressure
  const hub = metricsHubOf(app)
  if (hub !== undefined) {
    shedder.observeQueueWait = registerSheddingMetrics(hub, {
      counters,
      pressureLevel: () => ladder?.level ?? 0,
      * pools (): Iterable<PoolReading> {
        yield { pool: 'shared', limit: settings.limit === false ? null : shared.limit, inFlight: shared.inFlight, queued: shared.queued }
        for (const [route, controller] of bulkheads) yield { pool: route, limit: controller.limit, inFlight: controller.inFlight, queued: controller.queued }
      },
    }).observeQueueWait
  }

  app.decorate('loadShedding', {
    pressure (): string | undefined {
      return thresholds === undefined ? undefined : pressureSignal(app.memoryUsage(), thresholds)
    },
    stats (): LoadSheddingStats {
      const now = settings.clock.now()
      const routes: Record<string, BulkheadStats> = {}
      for (const [route, controller] of bulkheads) routes[route] = { inFlight: controller.inFlight, limit: controller.limit, queued: controller.queued }
      return {
        inFlight: shared.inFlight,
        limit: settings.limit === false ? null : shared.limit,
        queued: shared.queued,
        admitted: counters.admitted,
        shed: counters.snapshot(),
        pressureLevel: ladder?.level ?? 0,
        loopLaggingMs: shedder.lag?.laggingForMs(now) ?? 0,
        drainPerSecond: shared.drainPerSecond(now),
        bulkheads: routes,
      }
    },
  })

  // A closing app answers its refusals at once: none holds the close.
  app.addHook('preClose', async () => { shedder.spread.stop() })
  app.addHook('onClose', async () => {
    shedder.spread.stop()
    shared.close('queue-timeout')
    for (const controller of bulkheads.values()) controller.close('bulkhead')
    // After the waiters shed just above: their count is written with the rest.
    shedder.summary.flush()
  })

  app.addHook('onRoute', (routeOptions) => {
    const label = routeLabel(routeOptions)
    if (routeOptions.config?.shedding === undefined && answersOnlyOptions(routeOptions)) return
    const route = resolveRouteShedding(routeOptions.config?.shedding, settings, label)
    if (route === false) return
    let controller = shared
    let bulkheadLabel: string | undefined
    const declared = routeOptions.config?.shedding
    const sibling = routeOptions.method === 'HEAD' && typeof declared === 'object' ? bulkheadOf.get(declared) : undefined
    if (sibling !== undefined) {
      // Fastify's implicit HEAD route shares its GET route's config: one bulkhead for both.
      controller = sibling.controller
      bulkheadLabel = sibling.label
    } else if (route.bulkhead !== undefined) {
      controller = new AdmissionController({
        limit: new FixedLimit(route.bulkhead.maxConcurrent),
        maxQueue: route.bulkhead.maxQueue,
        maxQueueWaitMs: route.bulkhead.maxQueueWaitMs,
        criticalReserve: 0,
        reasons: { full: 'bulkhead', timeout: 'bulkhead' },
        clock: settings.clock,
      })
      bulkheadLabel = bulkheadLabelOf(label, routeOptions.constraints)
      bulkheads.set(bulkheadLabel, controller)
      if (typeof declared === 'object') bulkheadOf.set(declared, { controller, label: bulkheadLabel })
    }
    const admission = { priority: route.priority, controller, bulkhead: bulkheadLabel, label }
    const admit = createAdmissionHook(admission, shedder)
    // A slot is held until the response closes, which for a websocket is
    // its whole life: open websockets would starve every other route, and
    // their lifetimes would teach the adaptive limit nothing. A
    // config.shedding of the route's own (a bulkhead caps its websockets)
    // admits its upgrades like any request.
    appendRouteHook(routeOptions, 'onRequest', declared === undefined && servesWebsockets(routeOptions) ? skippingUpgrades(admit) : admit)
  })
}

/**
 * A bulkhead's name in stats, metrics and problems: its route's, with the
 * route's constraints (version, host) when it has any, since routes that
 * differ only by them have a bulkhead each.
 */
function bulkheadLabelOf (label: string, constraints: Record<string, unknown> | undefined): string {
  const entries = Object.entries(constraints ?? {})
  if (entries.length === 0) return label
  return `${label} (${entries.map(([name, value]) => `${name} ${String(value)}`).join(', ')})`
}

/** The load shedding capability as a Fastify plugin; needs {@link problemDetails}. */
export const loadShedding = fp(loadSheddingPlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/load-shedding',
  dependencies: ['fastify-resilience/problem-details'],
})

/** Options of the `loadShedding` plugin; `priority` receives Fastify's request. */
export type LoadSheddingOptions<Request = FastifyRequest> = LoadSheddingOptionsOf<Request>
export type { LoadSheddingStats, RouteSheddingConfig, Priority }
