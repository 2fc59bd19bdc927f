import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Registry } from 'prom-client'
import { isErrored } from 'node:stream'
import {
  ErrorBudgetTracker,
  SloMetrics,
  classifyOutcome,
  evaluateSli,
  maxBurnRate,
  openSloSpecs,
  prometheusRules,
  resolveErrorBudgetOptions,
  resolveRouteObjectives,
  ruleLabel,
  slothSpec,
} from '../src/error-budget/index.js'
import type {
  AlertRule,
  ErrorBudgetOptions as ErrorBudgetOptionsOf,
  Objective,
  ObjectiveDefinition,
  Outcome,
  ResolvedErrorBudgetOptions,
  RouteCounts,
  SliStatus,
  StateChange,
  TrackedSli,
} from '../src/error-budget/index.js'
import { FRS_ERR_ROUTE_CONFIG_INVALID } from '../src/errors.js'
import { assertKnownKeys, assertOptionsObject } from '../src/options.js'
import { MetricsHub } from '../src/metrics/hub.js'
import { addedHeadRoutes, answersOnlyOptions, appendRouteHook, isWebsocketUpgrade, routeLabel, servesWebsockets } from './route-options.js'
import { operatorRouteOptions } from './library-route.js'
import { authorized } from './authorized.js'
import { arrivalSlot, arrivedAt } from './arrival.js'
import type { ArrivalSlot } from './arrival.js'
import { hasMark, markStreamed, onUnanswered } from './outcome-marks.js'
import { streamedBody } from '../src/payload.js'
import { declareRequestState, stateOf } from './request-state.js'
import type { RequestState } from './request-state.js'
import { onResponseClosed } from './response-closed.js'
import { metricsHubOf } from './metrics-hub.js'
import { TIMED_OUT, within } from '../src/within.js'
import { registerOnce } from './registered-once.js'

/** The fleet-wide status, or the local one with the reason the fleet's could not be read. */
export type FleetStatus =
  | { scope: 'fleet', slos: SliStatus[] }
  | { scope: 'local', error: string, slos: SliStatus[] }

/** `app.errorBudget`: the SLOs' status, their events and their exports. */
export interface ErrorBudget {
  /** One entry per indicator of each SLO, evaluated now on this instance. */
  status: () => SliStatus[]
  /**
   * The same, summed over every instance sharing the `fleet` store; this
   * instance's status with the reason when the store is missing or fails.
   */
  fleetStatus: () => Promise<FleetStatus>
  /** Whether a fleet store is configured (`fleet`), so that `fleetStatus()` can be fleet-wide. */
  readonly fleetConfigured: boolean
  /** Adds this instance's counts to the fleet store now (they are also added every flushIntervalMs and on close). */
  flushFleet: () => Promise<void>
  /** Adds a listener told once per state transition; returns a function that removes it. */
  onStateChange: (listener: (change: StateChange) => void) => () => void
  /** Every declared indicator. */
  objectives: () => Objective[]
  /** The prom-client registry of the SLO metrics, or undefined with `metrics: false`. */
  readonly registry: Registry | undefined
  /** Prometheus recording and alerting rules for the declared SLOs, as YAML; a rule fires only when its long window holds `minEvents` events. */
  prometheusRules: (options?: { rules?: readonly AlertRule[] }) => string
  /** The declared SLOs as a Sloth spec (YAML), led by a comment naming the `sloth generate` option for their window; throws when they have more than one window. */
  slothSpec: (service: string) => string
  /** The declared SLOs as OpenSLO v1 documents (YAML). */
  openSloSpecs: (service: string) => string
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's SLO: an objective, the name of one declared on the plugin, or `false` (not counted). */
    slo?: ObjectiveDefinition | string | false
  }
  interface FastifyInstance {
    readonly errorBudget: ErrorBudget
  }
}

/**
 * Longest the fleet store may take, in milliseconds, to answer a fleet
 * status or the last flush that holds `app.close()`: a client that queues
 * commands while Redis is down (ioredis' default) would otherwise hold
 * either until it gives up, a minute or more.
 */
const FLEET_TIMEOUT_MS = 2000
/** Time the status route keeps, before the request's deadline, to answer with this instance's status. */
const FLEET_ANSWER_MARGIN_MS = 250
/** Indicators evaluated per turn of the event loop by the periodic evaluation: about a millisecond of work. */
const INDICATORS_PER_TURN = 100

/** What every route's recorder shares: hot in the cache, whichever route a request takes. */
interface RecordingContext {
  clock: ResolvedErrorBudgetOptions<FastifyRequest>['clock']
  fleet: ResolvedErrorBudgetOptions<FastifyRequest>['fleet']
  arrival: ArrivalSlot
  metrics: SloMetrics | undefined
}

/** A route's indicators (shared with the other routes of its SLO) and its counts (undefined without metrics). */
interface RouteRecording {
  availability: TrackedSli | undefined
  latency: TrackedSli | undefined
  counts: RouteCounts | undefined
}

function recordOutcome (context: RecordingContext, availability: TrackedSli | undefined, latency: TrackedSli | undefined, counts: RouteCounts | undefined, request: FastifyRequest, reply: FastifyReply): void {
  const { clock, arrival } = context
  // One look at what the other capabilities left on the request.
  const state = stateOf(request)
  // Counted once its response closes (countWhenClosed): the error answer of
  // a stream that failed before its head was sent passes onSend after it.
  if (hasMark(state?.marks ?? 0, 'streamed')) return
  // A destroyed socket means the client left before the answer, deadline or not.
  const outcome = outcomeOf(state, reply.statusCode, false, state?.deadline?.outcome === 'client-closed' || request.raw.socket?.destroyed === true)
  const now = clock.now()
  count(context, availability, latency, counts, outcome, now, now - arrivedAt(request, arrival))
}

/**
 * A streamed answer's fate is known only once its response closes: its
 * body written whole, cut at the deadline, broken off by a failure on the
 * server's side, or left by its client. It is counted then, with the
 * latency of its head, as for any answer.
 */
function countWhenClosed (context: RecordingContext, availability: TrackedSli | undefined, latency: TrackedSli | undefined, counts: RouteCounts | undefined, request: FastifyRequest, reply: FastifyReply, body: object): void {
  if (hasMark(stateOf(request)?.marks ?? 0, 'streamed')) return
  markStreamed(request)
  const elapsedMs = context.clock.now() - arrivedAt(request, context.arrival)
  const closed = (): void => {
    // A response's 'close' listener, where a throw would take the process down.
    try {
      // writableEnded, not writableFinished: HTTP/2 reports a reset stream as finished.
      const whole = reply.raw.writableEnded
      // A stream fails by itself; one its client left, or cut at the
      // deadline, is destroyed or cancelled without an error.
      const brokenOff = !whole && isErrored(body as NodeJS.ReadableStream)
      const outcome = outcomeOf(stateOf(request), reply.statusCode, brokenOff, !whole && !brokenOff)
      count(context, availability, latency, counts, outcome, context.clock.now(), elapsedMs)
    } catch (error) {
      request.log.error({ err: error }, 'the outcome of a streamed answer could not be recorded')
    }
  }
  onResponseClosed(reply.raw, closed)
}

/** The outcome of an answer, from what the other capabilities left on its request and how its connection ended. */
function outcomeOf (state: RequestState | undefined, statusCode: number, brokenOff: boolean, clientClosed: boolean): Outcome {
  const marks = state?.marks ?? 0
  return classifyOutcome({
    statusCode,
    deadlineExceeded: state?.deadline?.outcome === 'deadline-exceeded',
    callerBudgetSpent: hasMark(marks, 'refusedForDeadline'),
    brokenOff,
    clientClosed,
    shed: hasMark(marks, 'shed'),
    chaos: hasMark(marks, 'chaos'),
  })
}

function count (context: RecordingContext, availability: TrackedSli | undefined, latency: TrackedSli | undefined, counts: RouteCounts | undefined, outcome: Outcome, now: number, elapsedMs: number): void {
  const { fleet, metrics } = context
  // Latency is judged on the answers that were good; a failure already counts once.
  const slow = latency !== undefined && outcome.reason === 'good' ? elapsedMs > (latency.objective.thresholdMs ?? Infinity) : undefined
  if (outcome.counted) {
    const bad = outcome.bad ? 1 : 0
    availability?.counter.add(now, 1, bad)
    if (slow !== undefined) latency?.counter.add(now, 1, slow ? 1 : 0)
    if (fleet !== undefined) {
      const wallNow = fleet.clock.now()
      if (availability !== undefined) fleet.record(availability.objective, wallNow, bad, availability.spanMs)
      if (slow !== undefined && latency !== undefined) fleet.record(latency.objective, wallNow, slow ? 1 : 0, latency.spanMs)
    }
  }
  if (counts !== undefined) metrics?.record(counts, outcome.reason, slow, elapsedMs / 1000)
}

/**
 * What one route records its answers with: its onSend hook, and the
 * recorder of its requests that end unanswered. With a thousand routes, a
 * request finds its route's objects cold in the cache, one miss each: both
 * closures hold what the route's requests read (its indicators and its
 * counts, one array) in their one shared scope, with what every route
 * shares behind one more object, hot. An onSend closure over a recording
 * closure over a metrics closure took seven objects of the route's own
 * before its counts; a recorder object of the route's behind the hook's
 * scope still cost one more miss than this.
 */
function routeRecorderOf (context: RecordingContext, { availability, latency, counts }: RouteRecording) {
  return {
    onSend: function errorBudgetOnSend (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void): void {
      const body = streamedBody(payload)
      if (body === undefined) recordOutcome(context, availability, latency, counts, request, reply)
      else countWhenClosed(context, availability, latency, counts, request, reply, body)
      done(null, payload)
    },
    record: (request: FastifyRequest, reply: FastifyReply): void => { recordOutcome(context, availability, latency, counts, request, reply) },
  }
}

/** Upgrades whose handshake was counted: whatever else is recorded of them is not. */
const countedHandshakes = new WeakSet<FastifyRequest>()

/**
 * What a route that serves websockets records with. An upgrade that
 * @fastify/websocket takes over gets no answer for onSend to see, and its
 * refusals counted alone would make a route whose handshakes mostly
 * succeed look all bad. Without a config.slo of the route's own its
 * upgrades are not counted at all; with one, each counts once: a refusal as
 * any answer, and an upgrade that reaches its handler (this preHandler,
 * the route's last hook) as a good answer, timed to its handshake.
 */
function websocketRecorderOf (context: RecordingContext, recording: RouteRecording, countsUpgrades: boolean) {
  const { onSend, record } = routeRecorderOf(context, recording)
  const passesBy = (request: FastifyRequest): boolean => isWebsocketUpgrade(request) && (!countsUpgrades || countedHandshakes.has(request))
  return {
    onSend: function errorBudgetOnSendOfWebsocketRoute (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void): void {
      if (passesBy(request)) done(null, payload)
      else onSend(request, reply, payload, done)
    },
    record: (request: FastifyRequest, reply: FastifyReply): void => {
      if (!passesBy(request)) record(request, reply)
    },
    preHandler: !countsUpgrades
      ? undefined
      : function errorBudgetCountsHandshake (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
        if (isWebsocketUpgrade(request) && !countedHandshakes.has(request)) {
          countedHandshakes.add(request)
          record(request, reply)
        }
        done()
      },
  }
}

function warnUnreachablePages (app: FastifyInstance, objectives: readonly Objective[], rules: readonly AlertRule[]): void {
  for (const objective of objectives) {
    const highest = maxBurnRate(objective.target)
    for (const rule of rules) {
      if (rule.severity === 'page' && rule.burnRate > highest) {
        app.log.warn({ slo: objective.name, sli: objective.sli, target: objective.target, rule: ruleLabel(rule) }, `SLO '${objective.name}' (${objective.sli} ${objective.target}) can never page: even with every request bad it burns at ${Math.round(highest * 100) / 100}×, below the rule's ${rule.burnRate}×`)
      }
    }
  }
}

/**
 * Per-route SLOs: every answer is classified as it is sent (a route-level
 * `onSend` hook, the last of the route's; an `onResponse` hook would cost
 * Fastify about 7 % of hello-world throughput by itself) and counted
 * in fixed-size time buckets; burn rates follow the SRE workbook's
 * multiwindow policy; state changes fire events; metrics go to prom-client.
 */
const errorBudgetPlugin: FastifyPluginAsync<ErrorBudgetOptions> = async function errorBudget (app, options) {
  registerOnce(app, 'fastify-resilience/error-budget')
  const hub = metricsHubOf(app)
  // Without a `metrics` option of its own, the SLO series join the shared registry.
  const ownMetrics = (options as { metrics?: unknown }).metrics
  const settings = resolveErrorBudgetOptions<FastifyRequest>(ownMetrics === undefined && hub !== undefined ? { ...options, metrics: { registry: hub.registry, prefix: hub.prefix } } : options)
  if (hub !== undefined && settings.metrics?.registry === hub.registry && settings.metrics.prefix === hub.prefix) hub.enable('errorBudget')
  const { clock } = settings
  const tracker = new ErrorBudgetTracker({ rules: settings.alertRules, minEvents: settings.minEvents }, (error) => {
    app.log.error({ err: error }, 'an error budget state-change listener threw')
  })
  tracker.onStateChange((change) => {
    const details = { slo: change.name, sli: change.sli, from: change.from, to: change.to, burnRates: change.status.burnRates, budgetRemaining: change.status.budget.remaining }
    if (change.to === 'ok') app.log.info(details, 'error budget state changed')
    else app.log.warn(details, 'error budget state changed')
  })
  if (settings.onStateChange !== undefined) tracker.onStateChange(settings.onStateChange)
  for (const [name, objectives] of settings.objectives) {
    tracker.declare(objectives, `errorBudget.objectives (${name})`)
    warnUnreachablePages(app, objectives, settings.alertRules)
  }
  // A hub of their own, even on the shared registry: the SLO series leave it when the app closes.
  const sloHub = settings.metrics === undefined ? undefined : new MetricsHub(settings.metrics.registry, settings.metrics.prefix)
  const metrics = sloHub === undefined ? undefined : new SloMetrics(sloHub)
  declareRequestState(app)
  const allObjectives = (): Objective[] => tracker.all().map((tracked) => tracked.objective)

  const fleet = settings.fleet
  /** The fleet's status, or this instance's once the fleet store has not answered within `timeoutMs`. */
  async function fleetStatus (timeoutMs = FLEET_TIMEOUT_MS): Promise<FleetStatus> {
    const local = tracker.evaluate(clock.now())
    if (fleet === undefined) return { scope: 'local', error: 'no fleet store is configured (errorBudget.fleet)', slos: local }
    const readFleet = async (): Promise<SliStatus[]> => {
      await fleet.flush(allObjectives())
      const slos: SliStatus[] = []
      for (const { objective, spanMs } of tracker.all()) {
        const counts = await fleet.read(objective, spanMs)
        slos.push(evaluateSli(objective, counts, { rules: settings.alertRules, minEvents: settings.minEvents }, fleet.clock.now()))
      }
      return slos
    }
    try {
      const slos = await within(readFleet(), timeoutMs)
      if (slos !== TIMED_OUT) return { scope: 'fleet', slos }
      app.log.warn({ timeoutMs }, 'fleet error budget status unavailable: the fleet store did not answer in time; answering with this instance\'s')
      return { scope: 'local', error: `the fleet store did not answer within ${Math.round(timeoutMs)} ms`, slos: local }
    } catch (error) {
      app.log.warn({ err: error }, 'fleet error budget status unavailable; answering with this instance\'s')
      return { scope: 'local', error: `the fleet store failed: ${(error as Error).message}`, slos: local }
    }
  }
  const status = (): SliStatus[] => tracker.evaluate(clock.now())

  app.decorate('errorBudget', {
    status,
    fleetStatus: async () => await fleetStatus(),
    fleetConfigured: fleet !== undefined,
    flushFleet: async () => { await fleet?.flush(allObjectives()) },
    onStateChange: (listener: (change: StateChange) => void) => tracker.onStateChange(listener),
    objectives: allObjectives,
    registry: settings.metrics?.registry,
    prometheusRules: (rulesOptions?: { rules?: readonly AlertRule[] }) => {
      // Checked here: only the rules are passed on, and a misspelt key would be dropped on the way.
      const given = rulesOptions ?? {}
      assertOptionsObject(given, 'app.errorBudget.prometheusRules options')
      assertKnownKeys(given, ['rules'], 'app.errorBudget.prometheusRules options')
      return prometheusRules(allObjectives(), { prefix: settings.metrics?.prefix ?? '', rules: given.rules ?? settings.alertRules, minEvents: settings.minEvents })
    },
    slothSpec: (service: string) => slothSpec(allObjectives(), { service, prefix: settings.metrics?.prefix ?? '' }),
    openSloSpecs: (service: string) => openSloSpecs(allObjectives(), { service, prefix: settings.metrics?.prefix ?? '' }),
  } satisfies ErrorBudget)

  // Latency counts from the arrival, stamped by a context-level hook that
  // runs before every route-level one (the load shedder's queue, chaos
  // delays, deadline checks), so their time counts; shared with the
  // deadlines on the same clock. reply.elapsedTime cannot be used: Fastify
  // measures it only with a logger, an onResponse hook or a handler
  // timeout, and is 0 otherwise.
  const arrival = arrivalSlot(app, clock)
  const recording: RecordingContext = { clock, fleet: settings.fleet, arrival, metrics }

  const isAddedHead = addedHeadRoutes(app)
  app.addHook('onRoute', (routeOptions) => {
    const label = routeLabel(routeOptions)
    const addedHead = isAddedHead(routeOptions)
    if (routeOptions.config?.slo === undefined && answersOnlyOptions(routeOptions)) return
    const objectives = resolveRouteObjectives(routeOptions.config?.slo, settings.objectives, settings.defaultObjective, label)
    if (objectives === undefined) return
    const known = tracker.names().includes(objectives[0]?.name ?? '')
    const tracked = tracker.declare(objectives, `route ${label}: config.slo`, (expected, got) => new FRS_ERR_ROUTE_CONFIG_INVALID(label, 'slo', expected, got))
    if (!known) warnUnreachablePages(app, objectives, settings.alertRules)
    const routeRecording: RouteRecording = {
      availability: tracked.find((entry) => entry.objective.sli === 'availability'),
      latency: tracked.find((entry) => entry.objective.sli === 'latency'),
      counts: metrics?.forRoute(objectives, label, !addedHead),
    }
    const recorder = servesWebsockets(routeOptions)
      ? websocketRecorderOf(recording, routeRecording, routeOptions.config?.slo !== undefined)
      : { ...routeRecorderOf(recording, routeRecording), preHandler: undefined }
    appendRouteHook(routeOptions, 'onSend', recorder.onSend)
    if (recorder.preHandler !== undefined) appendRouteHook(routeOptions, 'preHandler', recorder.preHandler)
    // Counted too when the deadline gives up on a client that left.
    onUnanswered(routeOptions, recorder.record)
  })

  const timers: NodeJS.Timeout[] = []
  let fleetFailing = false
  const flushFleet = async (): Promise<void> => {
    if (fleet === undefined) return
    try {
      await fleet.flush(allObjectives())
      if (fleetFailing) app.log.info('error budget counts reach the fleet store again')
      fleetFailing = false
    } catch (error) {
      // Counts are kept for the next flush; one line per outage, not per attempt.
      if (!fleetFailing) app.log.warn({ err: error }, 'error budget counts could not be added to the fleet store; kept for the next attempt')
      fleetFailing = true
    }
  }
  // The periodic evaluation yields to requests between slices of indicators.
  const closing = new AbortController()
  let evaluating = false
  const evaluateInBackground = (): void => {
    if (evaluating) return
    evaluating = true
    tracker.evaluateInTurns(clock.now(), INDICATORS_PER_TURN, closing.signal)
      .catch((error: unknown) => { app.log.error({ err: error }, 'error budgets could not be evaluated') })
      .finally(() => { evaluating = false })
  }
  app.addHook('onReady', async () => {
    metrics?.seal()
    timers.push(setInterval(evaluateInBackground, settings.evaluationIntervalMs))
    if (fleet !== undefined) timers.push(setInterval(() => { flushFleet().catch(() => {}) }, fleet.flushIntervalMs))
    for (const timer of timers) timer.unref()
  })
  app.addHook('onClose', async () => {
    for (const timer of timers) clearInterval(timer)
    closing.abort()
    sloHub?.close()
    // A client that queues commands while Redis is down would hold the
    // close for as long as it retries: the last flush gets a bound.
    if (await within(flushFleet(), FLEET_TIMEOUT_MS) === TIMED_OUT) app.log.warn({ timeoutMs: FLEET_TIMEOUT_MS }, 'error budget counts not added to the fleet store before close; the last counts of this instance are lost')
  })

  const statusRoute = settings.statusRoute
  if (statusRoute !== undefined) {
    app.get(statusRoute.path, operatorRouteOptions(), async (request, reply) => {
      if (statusRoute.authorize !== undefined && !(await authorized(request, statusRoute.authorize, 'errorBudget.statusRoute.authorize'))) {
        return reply.problem({ status: 403, detail: 'This client may not read the SLO status.' })
      }
      const { scope } = request.query as { scope?: string }
      if (scope !== 'fleet') return tracker.evaluate(clock.now())
      // The answer must come before the request's own deadline does, with
      // time left to send it.
      const remainingMs = app.hasRequestDecorator('deadline') ? request.deadline.remainingMs() - FLEET_ANSWER_MARGIN_MS : Infinity
      return await fleetStatus(Math.max(0, Math.min(FLEET_TIMEOUT_MS, remainingMs)))
    })
  }
}

/** The error budget capability as a Fastify plugin; needs {@link problemDetails}. */
export const errorBudget = fp(errorBudgetPlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/error-budget',
  dependencies: ['fastify-resilience/problem-details'],
})

/** Options of the `errorBudget` plugin; `statusRoute.authorize` receives Fastify's request. */
export type ErrorBudgetOptions<Request = FastifyRequest> = ErrorBudgetOptionsOf<Request>
export type { ObjectiveDefinition, SliStatus, StateChange, AlertRule }
export { RedisErrorBudgetFleet } from '../src/error-budget/index.js'
