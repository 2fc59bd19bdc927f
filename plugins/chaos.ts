import process from 'node:process'
import fp from 'fastify-plugin'
import { randomInt } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import {
  CHAOS_ENV,
  ChaosController,
  Experiment,
  parseRequestedFault,
  resolveChaosOptions,
  resolveRouteChaos,
  seededRandom,
  verifyFaultSignature,
} from '../src/chaos/index.js'
import type { ChaosOptions as ChaosOptionsOf, ChaosStats, ExperimentSpec, Fault, Injection, LocalFault, ResolvedChaosOptions, RouteChaosConfig } from '../src/chaos/index.js'
import { MAX_TIMER_MS } from '../src/deadline/index.js'
import type { RequestDeadline } from '../src/deadline/index.js'
import { FRS_ERR_OPTION_INVALID } from '../src/errors.js'
import { ChaosMetrics } from '../src/metrics/chaos.js'
import { faultInjectedChannel } from '../src/metrics/channels.js'
import type { FaultInjectedMessage } from '../src/metrics/channels.js'
import { answersOnlyOptions, appendRouteHook, routeLabel, servesWebsockets, skippingUpgrades } from './route-options.js'
import { declareRequestState } from './request-state.js'
import { metricsHubOf } from './metrics-hub.js'
import { markChaos, unmarkChaos } from './outcome-marks.js'
import { cutShort } from './cut-short.js'
import { registerOnce } from './registered-once.js'

/** `app.chaos`: the switch, the kill switch and the experiments. */
export interface Chaos {
  /** Turns fault injection on; answers false (and logs why) when it is refused: in production, or while a watched SLO is burning. */
  enable: () => boolean
  /** Stops new faults; those in progress finish. */
  disable: (reason?: string) => void
  /** Stops new faults and ends the delays and hangs in progress at once. */
  kill: (reason?: string) => void
  /** Adds an experiment; it runs from its startAt for its durationMs. */
  start: (experiment: ExperimentSpec) => void
  /** Removes an experiment; answers whether there was one of that name. */
  stop: (name: string) => boolean
  /** What chaos is doing now. */
  stats: () => ChaosStats
  /**
   * Draws a fault for one call to a dependency, from the experiments whose
   * faults match that dependency (`match: { dependency }`); used by the
   * dependencies capability.
   */
  dependencyFault: (dependency: string) => DependencyFault | undefined
}

/** A fault on one call to a dependency; `ended` aborts when the kill switch ends it early. */
export interface DependencyFault {
  type: 'latency' | 'error' | 'exception' | 'hang'
  ms: number
  status: number
  ended: AbortSignal
  /** Called when the faulted call is over, so that the fault no longer counts among those in progress. */
  end: () => void
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's own faults; `false` means it is never faulted (health, metrics, status). */
    chaos?: RouteChaosConfig | false
  }
  interface FastifyInstance {
    readonly chaos: Chaos
  }
}

type Settings = ResolvedChaosOptions<FastifyRequest>

interface Requested { local: LocalFault[], authorized: boolean }
const NOTHING_REQUESTED: Requested = Object.freeze({ local: [], authorized: false }) as Requested

/** A fault asked for in a header counts only for an authorised caller; anyone else's header is ignored. */
function readRequested (request: FastifyRequest, settings: Settings, now: number): Requested {
  const requests = settings.requests
  if (requests === undefined) return NOTHING_REQUESTED
  const value = request.headers[requests.header]
  if (typeof value !== 'string') return NOTHING_REQUESTED
  const signature = request.headers[requests.signatureHeader]
  const signed = requests.secret !== undefined && typeof signature === 'string' && verifyFaultSignature(value, signature, requests.secret)
  const allowed = requests.authorize?.(request) === true
  if (!signed && !allowed) {
    request.log.debug('chaos header ignored: the caller is not authorised')
    return NOTHING_REQUESTED
  }
  // Authorised by its signature alone, a request must carry an expiry that
  // has not passed and is within the horizon.
  const fault = parseRequestedFault(value, requests.maxRate, now, allowed ? undefined : now + requests.maxExpiryMs)
  // A signed header that is expired or malformed authorises nothing.
  if (fault === undefined) return allowed ? { local: [], authorized: true } : NOTHING_REQUESTED
  return { local: [{ fault, source: 'header' }], authorized: true }
}

interface Context {
  settings: Settings
  controller: ChaosController
  delayRandom: () => number
  hasDeadlines: boolean
  /** Lets the error budget re-evaluate soon after faults, so that auto-stop is prompt. */
  afterInjection: () => void
  /** Set when metrics are on. */
  metrics: ChaosMetrics | undefined
}

/** Whether this caller may learn that its error was injected; authorize() is asked only when it matters. */
function reveal (settings: Settings, request: FastifyRequest, authorized: boolean): boolean {
  if (settings.revealInjected !== 'authorized') return settings.revealInjected === 'always'
  return authorized || settings.requests?.authorize?.(request) === true
}

/** Runs `proceed` after `ms`, unless the client leaves first or the kill switch ends the delay early. */
function delay (injection: Injection, reply: FastifyReply, ms: number, context: Context, proceed: () => void): void {
  // The client left during an earlier hook: its close event has passed, and there is no one to delay.
  if (reply.raw.destroyed) {
    injection.end()
    return
  }
  const finish = (): void => {
    clearTimeout(timer)
    untrack()
    reply.raw.removeListener('close', abandon)
    injection.end()
  }
  const timer = setTimeout(() => { finish(); proceed() }, ms)
  const abandon = (): void => finish()
  const untrack = context.controller.track(() => { finish(); proceed() })
  reply.raw.once('close', abandon)
}

function inject (injection: Injection, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, authorized: boolean, context: Context, route: string): void {
  const { fault, source } = injection
  const { settings } = context
  request.log.warn({ chaos: { source, fault: fault.describe } }, 'chaos fault injected')
  context.metrics?.injected(fault.type, source)
  if (faultInjectedChannel.hasSubscribers) faultInjectedChannel.publish({ request, route, type: fault.type, source } satisfies FaultInjectedMessage<FastifyRequest>)
  // Only a fault that breaks the answer marks it, so that error budgets count it under `chaos`.
  switch (fault.type) {
    case 'latency': {
      const ms = fault.delayMs(context.delayRandom)
      const deadline = context.hasDeadlines ? request.deadline : undefined
      // A delay that reaches the deadline holds the request until the
      // deadline answers 504, as a hang does. Cut to the time left instead,
      // it ended a moment before the deadline's own timer (armed on whole
      // milliseconds) and the route answered with no time left, or after
      // its deadline had passed.
      if (deadline !== undefined && ms >= deadline.remainingMs()) {
        holdUntilDeadline(injection, request, reply, deadline, context, done)
        return
      }
      delay(injection, reply, ms, context, () => done())
      return
    }
    case 'error': {
      injection.end()
      // An injected 4xx rehearses how clients handle being told they are at
      // fault; like any 4xx, it is not counted against the budget.
      if (fault.status >= 500) markChaos(request)
      const revealed = reveal(settings, request, authorized)
      reply.problem({
        status: fault.status,
        detail: fault.detail ?? (revealed ? `This error was injected on purpose (${source}).` : 'The request failed.'),
        ...(revealed ? { injected: source } : {}),
      })
      return
    }
    case 'exception':
      injection.end()
      markChaos(request)
      done(new Error(fault.message ?? `Injected exception (${source})`))
      return
    case 'abort':
      injection.end()
      markChaos(request)
      cutShort(reply.raw)
      return
    case 'hang': {
      const deadline = context.hasDeadlines ? request.deadline : undefined
      if (deadline !== undefined && Number.isFinite(deadline.remainingMs())) {
        holdUntilDeadline(injection, request, reply, deadline, context, done)
        return
      }
      markChaos(request)
      delay(injection, reply, settings.maxHangMs, context, proceedAfterHold(request, reply, done))
    }
  }
}

/** A hold that ends without an answer (the kill switch, maxHangMs) lets the request proceed normally, like a delay. */
function proceedAfterHold (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): () => void {
  return () => {
    if (reply.sent) return
    unmarkChaos(request)
    done()
  }
}

/**
 * Holds the request until its deadline answers 504 and ends it; until
 * then, nothing. While it holds the request, what ends it (the deadline's
 * 504, the client leaving) is the fault's doing.
 */
function holdUntilDeadline (injection: Injection, request: FastifyRequest, reply: FastifyReply, deadline: RequestDeadline, context: Context, done: HookHandlerDoneFunction): void {
  markChaos(request)
  delay(injection, reply, Math.min(deadline.remainingMs() + 1000, MAX_TIMER_MS), context, proceedAfterHold(request, reply, done))
}

function createChaosHook (routeFaults: readonly Fault[], url: string, label: string, context: Context) {
  const { controller, settings } = context
  const local: LocalFault[] = routeFaults.map((fault) => ({ fault, source: 'route' }))
  return function chaosOnRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (!controller.enabled) {
      done()
      return
    }
    const now = settings.clock.now()
    const requested = readRequested(request, settings, now)
    const facts = { method: request.method, route: url, path: request.url.split('?', 1)[0] ?? '/', headers: request.headers }
    const injection = controller.choose(requested.local.length === 0 ? local : [...requested.local, ...local], facts, now)
    if (injection === undefined) {
      done()
      return
    }
    inject(injection, request, reply, done, requested.authorized, context, label)
    context.afterInjection()
  }
}

// Read as loosely as the switch is: a guard that `Production` or a stray
// space slipped past would let chaos run where it must not.
function isProduction (): boolean {
  return (process.env.NODE_ENV ?? '').trim().toLowerCase() === 'production'
}

/**
 * Declared faults per route and time-boxed experiments, off by default,
 * with a kill switch, a cap on faults in progress, authorised per-request
 * faults, and a stop when an error budget burns.
 */
const chaosPlugin: FastifyPluginAsync<ChaosOptions> = async function chaos (app, options) {
  registerOnce(app, 'fastify-resilience/chaos')
  const settings = resolveChaosOptions<FastifyRequest>(options, () => randomInt(2 ** 31))
  const controller = new ChaosController(settings.maxActiveFaults, seededRandom(settings.seed), seededRandom(settings.seed ^ 0x2f6b3c1d))
  for (const spec of settings.experiments) controller.addExperiment(new Experiment(spec, settings.clock.now(), () => randomInt(2 ** 31)))
  declareRequestState(app)
  /** When the error budget was last asked to re-evaluate, on the chaos clock. */
  let evaluatedAt = -Infinity
  /** Whether a fault was injected since that evaluation: its outcome may not have been counted by it. */
  let injectedSince = false
  /** The trailing evaluation, armed only while an injection's outcome is still to be seen. */
  let trailing: NodeJS.Timeout | undefined
  let closing = false

  // At most once a second: a status evaluation reads every window. A state
  // change it finds reaches the onStateChange listener below, which stops chaos.
  const evaluate = (now: number): void => {
    evaluatedAt = now
    injectedSince = false
    app.errorBudget.status()
  }
  const armTrailing = (now: number): void => {
    if (trailing !== undefined || closing) return
    // The chaos clock may be a test's, standing still: the wait stays within a second.
    const waitMs = Math.min(1000, Math.max(0, evaluatedAt + 1000 - now))
    trailing = setTimeout(() => {
      trailing = undefined
      // The evaluation that just ran may have come a moment after an
      // injection, before its response ended and was counted: one more
      // a second later sees it. A second without injections ends the chain.
      const owed = injectedSince
      // Thrown in a timer, an error would end the process; the periodic
      // evaluation logs its own failures the same way.
      try {
        evaluate(settings.clock.now())
      } catch (error) {
        app.log.error({ err: error }, 'error budgets could not be evaluated after chaos injected faults')
        return
      }
      if (owed && controller.enabled) armTrailing(settings.clock.now())
    }, waitMs)
    // Background work: the requests that injected are already answered, and
    // the periodic evaluation would still catch the burn; it must not keep
    // a process alive that has nothing else left to do.
    trailing.unref()
  }

  /** Watched SLOs in a bad state now, described; empty when none or without error budgets. */
  const burning = (): string[] => {
    const watch = settings.stopOnBudget
    if (watch === undefined || !app.hasDecorator('errorBudget')) return []
    return app.errorBudget.status()
      .filter((status) => (watch.slos === undefined || watch.slos.has(status.name)) && watch.states.has(status.state))
      .map((status) => `SLO ${status.name} (${status.sli}) is ${status.state}`)
  }

  const context: Context = {
    settings,
    controller,
    delayRandom: seededRandom(settings.seed ^ 0x5bd1e995),
    hasDeadlines: app.hasRequestDecorator('deadline'),
    metrics: undefined,
    afterInjection () {
      if (settings.stopOnBudget === undefined || !app.hasDecorator('errorBudget')) return
      const now = settings.clock.now()
      // Sees the outcomes of the faults injected before this one, under
      // steady traffic. Not this fault's own: it is counted when its
      // response ends, after this hook.
      if (now - evaluatedAt >= 1000) evaluate(now)
      injectedSince = true
      // Without it, a burst's failures after the first evaluation were seen
      // only at the next periodic evaluation (10 s by default), or at the
      // next injection once traffic resumed, one fault too late.
      armTrailing(now)
    },
  }

  const hub = metricsHubOf(app)
  if (hub !== undefined) context.metrics = new ChaosMetrics(hub, { enabled: () => controller.enabled, active: () => controller.stats(settings.clock.now()).active })

  function enable (): boolean {
    // The refusal is kept for stats() as well as logged: with no logger,
    // as Fastify() starts, it would otherwise say nowhere why.
    if (isProduction() && !settings.allowInProduction) {
      controller.disable('NODE_ENV is production and chaos.allowInProduction is not set')
      app.log.error('chaos stays off: NODE_ENV is production and chaos.allowInProduction is not set')
      return false
    }
    const reasons = burning()
    if (reasons.length > 0) {
      controller.disable(`a watched error budget is burning: ${reasons.join('; ')}`)
      app.log.error({ reasons }, 'chaos stays off: a watched error budget is burning')
      return false
    }
    controller.enable()
    app.log.warn('chaos enabled: faults will be injected')
    return true
  }

  app.decorate('chaos', {
    enable,
    disable: (reason = 'disabled') => {
      controller.disable(reason)
      app.log.warn({ reason }, 'chaos disabled')
    },
    kill: (reason = 'killed') => {
      controller.kill(reason)
      app.log.warn({ reason }, 'chaos killed: every fault ended')
    },
    start: (spec: ExperimentSpec) => {
      const experiment = new Experiment(spec, settings.clock.now(), () => randomInt(2 ** 31))
      controller.addExperiment(experiment)
      app.log.warn({ experiment: experiment.name, seed: experiment.seed, startsAt: experiment.startsAt, endsAt: experiment.endsAt }, 'chaos experiment added')
    },
    stop: (name: string) => controller.removeExperiment(name),
    stats: () => controller.stats(settings.clock.now()),
    dependencyFault: (dependency: string) => {
      if (!controller.enabled) return undefined
      const injection = controller.choose([], { method: '', route: '', path: '', headers: {}, dependency }, settings.clock.now())
      if (injection === undefined) return undefined
      const { fault, source } = injection
      app.log.warn({ chaos: { source, fault: fault.describe, dependency } }, 'chaos fault injected')
      context.afterInjection()
      const ended = new AbortController()
      const untrack = controller.track(() => { ended.abort(); injection.end() })
      return {
        // A dropped connection is, for the caller, a failed call.
        type: fault.type === 'abort' ? 'exception' : fault.type,
        ms: fault.delayMs(context.delayRandom),
        status: fault.status,
        ended: ended.signal,
        end: () => { untrack(); injection.end() },
      }
    },
  } satisfies Chaos)

  // Excluded paths are read as full URLs and as URLs under the prefix chaos
  // is registered with: the defaults (/health, /metrics, …) must still
  // spare an application's own /v1/health when the umbrella sits in /v1.
  const prefix = app.prefix
  const excluded = (url: string): boolean => settings.exclude.has(url) || (prefix !== '' && url.startsWith(prefix) && settings.exclude.has(url.slice(prefix.length)))
  app.addHook('onRoute', (routeOptions) => {
    const label = routeLabel(routeOptions)
    if (routeOptions.config?.chaos === undefined && answersOnlyOptions(routeOptions)) return
    const faults = resolveRouteChaos(routeOptions.config?.chaos, label)
    if (faults === false || excluded(routeOptions.url)) return
    const hook = createChaosHook(faults, routeOptions.url, label, context)
    // An experiment aimed at the API would otherwise break websocket
    // handshakes, which no SLO counts by default; a config.chaos of the
    // route's own (faults: [] for the experiments alone) asks for them.
    appendRouteHook(routeOptions, 'onRequest', routeOptions.config?.chaos === undefined && servesWebsockets(routeOptions) ? skippingUpgrades(hook) : hook)
  })

  app.addHook('onReady', async () => {
    const watch = settings.stopOnBudget
    if (watch?.slos !== undefined) {
      // A misspelt name would turn the safety stop off without a word.
      const declared = app.hasDecorator('errorBudget') ? new Set(app.errorBudget.objectives().map((objective) => objective.name)) : new Set<string>()
      const unknown = [...watch.slos].filter((name) => !declared.has(name))
      if (unknown.length > 0) {
        throw new FRS_ERR_OPTION_INVALID('chaos.stopOnBudget.slos', `names of declared SLOs (${declared.size === 0 ? 'none is declared' : [...declared].join(', ')})`, `${unknown.length === 1 ? 'the unknown name' : 'the unknown names'} ${unknown.map((name) => JSON.stringify(name)).join(', ')}`)
      }
    }
    if (watch !== undefined && app.hasDecorator('errorBudget')) {
      app.errorBudget.onStateChange((change) => {
        if (!controller.enabled || !watch.states.has(change.to) || (watch.slos !== undefined && !watch.slos.has(change.name))) return
        const reason = `SLO ${change.name} (${change.sli}) turned ${change.to}`
        controller.kill(reason)
        app.log.warn({ reason, burnRates: change.status.burnRates }, 'chaos stopped itself: an error budget is burning')
      })
    }
    const fromEnvironment = ['1', 'on', 'true'].includes((process.env[CHAOS_ENV] ?? '').toLowerCase())
    // An explicit `enabled: false` opts the service out of an environment
    // that turns chaos on for every service it runs; enable() still can.
    if (fromEnvironment && options.enabled === false) app.log.info(`chaos stays off: ${CHAOS_ENV} is set, but chaos.enabled is false`)
    if (settings.enabled || (fromEnvironment && options.enabled !== false)) enable()
  })
  // At the start of close, not in onClose: Fastify runs onClose only once
  // the requests in flight have ended, and a request an injected delay or
  // hang holds would hold the shutdown with it.
  app.addHook('preClose', async () => {
    controller.kill('the server is closing')
    closing = true
    clearTimeout(trailing)
    trailing = undefined
  })
}

/** The chaos capability as a Fastify plugin; needs {@link problemDetails}. */
export const chaos = fp(chaosPlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/chaos',
  dependencies: ['fastify-resilience/problem-details'],
})

/** Options of the `chaos` plugin; `requests.authorize` receives Fastify's request. */
export type ChaosOptions<Request = FastifyRequest> = ChaosOptionsOf<Request>
export type { ChaosStats, ExperimentSpec, RouteChaosConfig }
