import type { Http2ServerRequest } from 'node:http2'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteShorthandOptions } from 'fastify'
import {
  CheckRunner,
  HEALTH_CONTENT_TYPE,
  HEALTH_PROBLEM_TYPES,
  LoopDelaySampler,
  entryOf,
  failingChecks,
  overallStatus,
  resolveHealthOptions,
} from '../src/health/index.js'
import type {
  HealthCheckEntry,
  HealthDocument,
  HealthOptions as HealthOptionsOf,
  LifecyclePhase,
  ResolvedHealthOptions,
  ResolvedShutdownOptions,
} from '../src/health/index.js'
import { FRS_ERR_OPTION_INVALID } from '../src/errors.js'
import type { DependencyStats } from '../src/dependencies/index.js'
import { isLibraryRoute, libraryRouteConfig } from './library-route.js'
import { authorized } from './authorized.js'
// Declares app.dependencies, read for requiredDependencies.
import type {} from './dependencies.js'
import { markShed } from './outcome-marks.js'
import { connectionCloser } from '../src/connection/closer.js'
import { closeOnSignals } from '../src/health/signal-shutdown.js'
import { registerOnce } from './registered-once.js'
import { appendRouteHook, isWebsocketUpgrade, servesWebsockets } from './route-options.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Liveness, readiness and the shutdown phase, for probes and for other plugins. */
    readonly health: Health
  }
}

/** What `app.health` offers. */
export interface Health {
  /** Where the instance stands: serving, draining, closing or closed. */
  readonly phase: LifecyclePhase
  /** Whether the instance should be sent traffic now. */
  ready: () => boolean
  /** The readiness document with every check, as authorised callers see it. */
  readiness: () => HealthDocument
  /** The liveness document with the event-loop delay. */
  liveness: () => HealthDocument
}

/** How often the event loop's delay is sampled, and over how long its worst delay is kept. */
const LOOP_SAMPLE_MS = 100
const LOOP_WINDOW_MS = 2000
/** After the shutdown timeout, how long closing may still take (releasing keys, flushing counters) before a signal handler exits anyway. */
const SIGNAL_EXIT_MARGIN_MS = 5000
/** The share of Fastify's pluginTimeout the preClose hook may take; the rest is a margin before avvio fails close(). */
const PRE_CLOSE_SHARE = 0.9

/** A timer as a promise, with a way to stop it early. */
function delay (ms: number): { elapsed: Promise<void>, cancel: () => void } {
  let timer: NodeJS.Timeout | undefined
  const elapsed = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms) })
  return { elapsed, cancel: () => { clearTimeout(timer) } }
}

/** Who may see a health document's details: nobody without `authorize`. */
async function mayReadDetails (request: FastifyRequest, authorize: ResolvedHealthOptions<FastifyRequest>['authorize']): Promise<boolean> {
  return authorize !== undefined && await authorized(request, authorize, 'health.authorize')
}

function sendHealth (reply: FastifyReply, document: HealthDocument, detailed: boolean): FastifyReply {
  const body: HealthDocument = detailed ? document : { status: document.status }
  return reply.header('cache-control', 'no-store').type(HEALTH_CONTENT_TYPE).send(JSON.stringify(body))
}

function sendFailure (reply: FastifyReply, type: 'not-ready' | 'not-live', document: HealthDocument, detailed: boolean): FastifyReply {
  reply.header('cache-control', 'no-store')
  if (!detailed) return reply.problem({ type })
  const checks = document.checks ?? {}
  return reply.problem({ type, detail: `Failing: ${failingChecks(checks).join(', ')}.`, checks })
}

/**
 * Checks at startup that every required dependency is declared: the
 * dependencies capability may be registered after this plugin.
 */
function assertRequiredDependencies (app: FastifyInstance, required: readonly string[]): void {
  if (required.length === 0) return
  const declared = app.hasDecorator('dependencies') ? app.dependencies.names : []
  const missing = required.filter((name) => !declared.includes(name))
  if (missing.length > 0) {
    throw new FRS_ERR_OPTION_INVALID('health.requiredDependencies', `names of declared dependencies (${declared.length === 0 ? 'none declared' : declared.join(', ')})`, missing.join(', '))
  }
}

/**
 * A required dependency fails readiness while its breaker refuses calls.
 * An open breaker whose open period is over is about to let a probe
 * through: failing readiness then would keep away the very traffic that
 * could close it.
 */
function breakerEntry (stats: DependencyStats | undefined): HealthCheckEntry {
  if (stats === undefined) return { status: 'fail', componentType: 'component', output: 'not declared' }
  const refusing = stats.state === 'open' && stats.openRemainingMs > 0
  return { status: refusing ? 'fail' : 'pass', componentType: 'component', observedValue: stats.state }
}

/**
 * Liveness and readiness routes, custom checks run off the request path,
 * and a graceful shutdown on `app.close()`: readiness fails first, new
 * requests are refused after a grace period, requests in flight finish,
 * and the rest is cut off at a timeout.
 */
const healthPlugin: FastifyPluginAsync<HealthOptions> = async function health (app, options) {
  registerOnce(app, 'fastify-resilience/health')
  const settings = resolveHealthOptions<FastifyRequest>(options)
  for (const [slug, definition] of Object.entries(HEALTH_PROBLEM_TYPES)) app.problemTypes.register(slug, definition)
  const runner = new CheckRunner(settings.checks, settings.clock)
  const loop = new LoopDelaySampler(LOOP_SAMPLE_MS, LOOP_WINDOW_MS, () => settings.clock.now())
  const refusing = settings.checks.filter((check) => check.refuseTraffic)
  let phase: LifecyclePhase = 'serving'

  const moveTo = (next: LifecyclePhase): void => {
    if (phase === next) return
    app.log.info({ from: phase, to: next }, `health: ${next}`)
    phase = next
  }

  const readiness = (): HealthDocument => {
    const checks: Record<string, HealthCheckEntry[]> = {
      'lifecycle:phase': [{ status: phase === 'serving' ? 'pass' : 'fail', observedValue: phase }],
    }
    if (settings.pressure && app.hasDecorator('loadShedding')) {
      // The signal itself, not the shedding level: the level moves only as
      // requests arrive, and a readiness that fails stops their arrival.
      const signal = app.loadShedding.pressure()
      checks['loadShedding:pressure'] = [signal === undefined ? { status: 'pass' } : { status: 'fail', output: signal }]
    }
    for (const check of settings.checks) {
      const result = runner.result(check.name)
      checks[check.name] = [result === undefined ? { status: check.required ? 'fail' : 'warn', output: 'not run yet' } : entryOf(result)]
    }
    if (settings.requiredDependencies.length > 0) {
      const stats = app.dependencies.stats()
      for (const name of settings.requiredDependencies) checks[`${name}:breaker`] = [breakerEntry(stats[name])]
    }
    return { status: overallStatus(checks), checks }
  }

  const liveness = (): HealthDocument => {
    const delay = Math.round(loop.delayMs())
    const status = delay > settings.maxEventLoopDelayMs ? 'fail' : 'pass'
    return { status, checks: { 'eventLoop:delay': [{ status, observedValue: delay, observedUnit: 'ms' }] } }
  }

  app.decorate('health', {
    get phase () { return phase },
    ready: () => readiness().status !== 'fail',
    readiness,
    liveness,
  } satisfies Health)

  const routeConfig = { ...settings.routeOptions, config: libraryRouteConfig() }
  if (settings.livePath !== false) {
    app.get(settings.livePath, routeConfig, async (request, reply) => {
      const document = liveness()
      const detailed = await mayReadDetails(request, settings.authorize)
      return document.status === 'fail' ? sendFailure(reply, 'not-live', document, detailed) : sendHealth(reply, document, detailed)
    })
  }
  if (settings.readyPath !== false) {
    app.get(settings.readyPath, routeConfig, async (request, reply) => {
      const document = readiness()
      const detailed = await mayReadDetails(request, settings.authorize)
      return document.status === 'fail' ? sendFailure(reply, 'not-ready', document, detailed) : sendHealth(reply, document, detailed)
    })
  }

  // Context-level, so it runs before every route-level hook (shedding,
  // chaos, idempotency): a refused request costs them nothing.
  let inFlight = 0
  let onIdle: (() => void) | undefined
  const finished = (): void => {
    inFlight--
    if (inFlight === 0) onIdle?.()
  }
  // Callback hooks: an async one would cost every request a promise.
  app.addHook('onRequest', (request, reply, done) => {
    if (phase === 'serving' && refusing.length === 0) {
      track(request, reply)
      done()
      return
    }
    if (isLibraryRoute(request.routeOptions.config)) {
      done()
      return
    }
    if (phase === 'closing' || phase === 'closed') {
      // Its connection closes after it, as every answer's does from now on (onSend).
      markShed(request)
      reply.problem({ type: 'shutting-down' })
      return
    }
    const failing = refusing.find((check) => runner.result(check.name)?.status !== 'pass')
    if (failing !== undefined) {
      markShed(request)
      reply.header('retry-after', String(Math.ceil(failing.intervalMs / 1000)))
      reply.problem({ type: 'not-ready', detail: 'A required check fails; retry later or on another instance.' })
      return
    }
    track(request, reply)
    done()
  })
  /** Counts the requests the shutdown waits for: every admitted one but the library's routes. */
  function track (request: FastifyRequest, reply: FastifyReply): void {
    if (isLibraryRoute(request.routeOptions.config)) return
    inFlight++
    // on, not once: a response emits 'close' once, and once() would cost
    // every request a wrapper function.
    reply.raw.on('close', finished)
  }
  /**
   * A websocket is a conversation, not a request in flight: the shutdown
   * would wait for it until its timeout, or 90% of pluginTimeout, before
   * @fastify/websocket's own preClose hook closes it. An upgrade counts as
   * one while its hooks run, and no longer once its handler takes it over.
   * Route-level, so that @fastify/websocket's onRequest hook has marked it
   * whichever plugin was registered first.
   */
  function untrackWebsocket (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (isWebsocketUpgrade(request) && reply.raw.listeners('close').includes(finished)) {
      reply.raw.removeListener('close', finished)
      finished()
    }
    done()
  }
  app.addHook('onRoute', (routeOptions) => {
    if (servesWebsockets(routeOptions)) appendRouteHook(routeOptions, 'preHandler', untrackWebsocket)
  })
  /** Resolves once no request is in flight, or once `over` settles; says which. */
  async function drained (over: Promise<void>): Promise<boolean> {
    if (inFlight === 0) return true
    const idle = await Promise.race([new Promise<boolean>((resolve) => { onIdle = () => resolve(true) }), over.then(() => false)])
    onIdle = undefined
    return idle
  }
  // Answers that leave once shutdown began close their connection, so no
  // keep-alive connection outlives the listener with a request in flight.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (phase !== 'serving') closeAfterAnswer(request, reply)
    done(null, payload)
  })

  app.addHook('onReady', async () => {
    assertRequiredDependencies(app, settings.requiredDependencies)
    loop.start()
    await runner.start()
  })

  const shutdown = settings.shutdown
  // Fastify fails close() with AVV_ERR_READY_TIMEOUT when a preClose hook
  // outlasts its pluginTimeout, yet does not bound its own server close: the
  // hook waits for a share of pluginTimeout at most, then the server close
  // waits for the requests still in flight.
  const pluginTimeoutMs = app.initialConfig.pluginTimeout ?? 10_000
  const preCloseMs = pluginTimeoutMs > 0 ? Math.floor(pluginTimeoutMs * PRE_CLOSE_SHARE) : Number.POSITIVE_INFINITY
  if (shutdown !== false && shutdown.graceMs > preCloseMs) {
    app.log.warn({ graceMs: shutdown.graceMs, pluginTimeout: pluginTimeoutMs }, `health: the shutdown grace is cut to ${preCloseMs} ms to end within Fastify's pluginTimeout; raise pluginTimeout for the whole grace`)
  }
  let startedAt: number | undefined
  const leftMs = (): number => shutdown === false || startedAt === undefined ? 0 : Math.max(0, shutdown.timeoutMs - (settings.clock.now() - startedAt))
  let forceClose: NodeJS.Timeout | undefined
  // Only a shutdown closes connections; HTTP/2 sessions are followed for it.
  const connections = shutdown === false ? undefined : connectionCloser(app.server)
  const closeAllConnections = (): void => { connections?.closeAll() }
  // Fastify runs preClose before it stops listening: the grace period and
  // the wait for requests in flight happen here, while new connections are
  // still answered (served during the grace, refused after it).
  app.addHook('preClose', async () => {
    startedAt = settings.clock.now()
    moveTo('draining')
    if (shutdown === false) return
    // Both timers start in the turn in which avvio starts this hook's
    // pluginTimeout timer, and are shorter: they always fire first.
    const waitMs = Math.min(shutdown.timeoutMs, preCloseMs)
    const waited = delay(waitMs)
    if (shutdown.graceMs > 0 && app.server.listening) await delay(Math.min(shutdown.graceMs, waitMs)).elapsed
    moveTo('closing')
    const idle = await drained(waited.elapsed)
    waited.cancel()
    if (!idle && waitMs === shutdown.timeoutMs) {
      app.log.warn({ inFlight, timeoutMs: shutdown.timeoutMs }, 'health: shutdown timeout; closing the connections still open')
      closeAllConnections()
      return
    }
    if (!idle) app.log.info({ inFlight, pluginTimeout: pluginTimeoutMs }, 'health: requests still in flight; the server stops listening and waits for them until the shutdown timeout')
    // The server stops listening next. Fastify closes idle HTTP/1
    // connections then; HTTP/2 sessions that answered nothing since the
    // shutdown began get their GOAWAY here, or they would hold close().
    connections?.closeIdle()
    // A request that still slips in on an open connection is refused, and
    // the connections still open are closed at the bound.
    forceClose = setTimeout(closeAllConnections, leftMs())
    forceClose.unref()
  })
  app.addHook('onClose', async () => {
    // Requests without a connection (inject) are not waited for by the
    // server close; they get the rest of the shutdown timeout here.
    const waited = delay(leftMs())
    await drained(waited.elapsed)
    waited.cancel()
    clearTimeout(forceClose)
    runner.stop()
    loop.stop()
    moveTo('closed')
  })

  if (shutdown !== false && shutdown.signals.length > 0) handleSignals(app, shutdown)
}

/**
 * Ends the answer's connection once it is out: `Connection: close` over
 * HTTP/1. HTTP/2 has no such header (Node drops it with a warning); a
 * GOAWAY does the same there, letting the streams under way finish.
 */
function closeAfterAnswer (request: FastifyRequest, reply: FastifyReply): void {
  if (request.raw.httpVersionMajor === 2) {
    (request.raw as unknown as Http2ServerRequest).stream.session?.close()
    return
  }
  reply.header('connection', 'close')
}

/**
 * Closes the app on the first of the signals, with every other app of the
 * process that handles signals, then exits; a close that hangs past its
 * bound exits with 1.
 */
function handleSignals (app: FastifyInstance, shutdown: ResolvedShutdownOptions): void {
  const leave = closeOnSignals({
    signals: shutdown.signals,
    close: async () => { await app.close() },
    boundMs: shutdown.timeoutMs + SIGNAL_EXIT_MARGIN_MS,
    onSignal: (signal) => { app.log.info({ signal }, 'health: signal received; shutting down') },
    onCloseFailed: (error) => { app.log.error({ err: error }, 'health: close failed') },
    onBoundPassed: () => { app.log.error('health: close did not finish in time; exiting') },
  })
  app.addHook('onClose', async () => { leave() })
}

/** The health capability as a Fastify plugin; needs {@link problemDetails}. */
export const health = fp(healthPlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/health',
  dependencies: ['fastify-resilience/problem-details'],
})

/** Options of the `health` plugin; `authorize` receives Fastify's request. */
export type HealthOptions<Request = FastifyRequest> = HealthOptionsOf<Request, HealthRouteOptions>

/** Route options the health routes take: a shorthand route's, without its config (the library sets it). */
export type HealthRouteOptions = Omit<RouteShorthandOptions, 'config'>
export type { HealthDocument, HealthCheckEntry, LifecyclePhase }
export type { ShutdownOptions, HealthCheck } from '../src/health/index.js'
