import fp from 'fastify-plugin'
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  RouteHandlerMethod,
} from 'fastify'
import {
  DEADLINE_PROBLEM_TYPES,
  Deadline,
  DeadlineQueue,
  EndOfTurnBatch,
  readCallerBudget,
  resolveBudget,
  resolveDeadlinesOptions,
  resolveRouteDeadline,
  routeBudgetMs,
  unboundedDeadline,
} from '../src/deadline/index.js'
import type { DeadlinesOptions, RequestDeadline, ResolvedDeadlinesOptions, RouteDeadlineConfig } from '../src/deadline/index.js'
import { DeadlineMetrics } from '../src/metrics/deadlines.js'
import type { DeadlineTally } from '../src/metrics/deadlines.js'
import { addedHeadRoutes, appendRouteHook, handlerMayBeWebsocket, routeLabel, servesWebsockets, skippingUpgrades } from './route-options.js'
import type { RouteConfigObject } from './route-options.js'
import { metricsHubOf } from './metrics-hub.js'
import { keptHandler, markRefusedForDeadline } from './outcome-marks.js'
import { arm, deadlineOf, markAnswered, onDeadlinePassed } from './deadline-lifecycle.js'
import { arrivalSlot, arrivedAt } from './arrival.js'
import type { ArrivalSlot } from './arrival.js'
import { declareRequestState, stateFor, stateOf } from './request-state.js'
import { registerOnce } from './registered-once.js'
import { onResponseClosed } from './response-closed.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's deadline; `false` opts the route out (e.g. for streaming). */
    deadline?: RouteConfigObject<RouteDeadlineConfig> | false
  }
  interface FastifyRequest {
    /**
     * The request's deadline: remaining time, an AbortSignal for the work in
     * flight, and the header to forward downstream. Routes without a
     * deadline get one that never expires.
     */
    readonly deadline: RequestDeadline
  }
}

function refuseSpent (reply: FastifyReply, timeoutMs: number, detail: string, tally: DeadlineTally | undefined): void {
  markRefusedForDeadline(reply.request)
  if (tally !== undefined) tally.refused++
  reply.problem({ type: 'deadline-exceeded', detail, timeoutMs: Math.floor(timeoutMs) })
}

function refuseInvalidHeader (request: FastifyRequest, reply: FastifyReply, header: string, reason: string): void {
  request.log.info({ header, reason }, 'malformed deadline header refused')
  reply.problem({ type: 'invalid-deadline', detail: `The ${header} header is invalid: ${reason}.`, header })
}

/** What every route's onRequest hook shares: hot in the cache, whichever route a request takes. */
interface RouteHookContext {
  settings: ResolvedDeadlinesOptions
  arming: EndOfTurnBatch<FastifyReply>
  arrival: ArrivalSlot
  metrics: DeadlineMetrics | undefined
}

/**
 * A route's onRequest hook. With a thousand routes, a request finds its
 * route's objects cold in the cache, one miss per 64-byte line it reads:
 * the hook's scope holds the route's own (its budget policy, its tally,
 * and the timeout of a request that carries no budget, as a number) and
 * one object that every route shares, so that it fits in a line or two.
 * The timeout in the route's admission object, and the shared settings
 * in slots of their own, took one miss more per request.
 */
function createOnRequest (context: RouteHookContext, routeTimeoutMs: number, tally: DeadlineTally | undefined) {
  const policy = { routeTimeoutMs, safetyMarginMs: context.settings.safetyMarginMs, minimumMs: context.settings.minimumMs }
  // Most requests carry no budget of their own: their deadline is the route's, resolved once.
  const routeMs = routeBudgetMs(policy)
  return function deadlineOnRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const { settings, arming, arrival, metrics } = context
    const caller = readCallerBudget(request.headers, settings.readers)
    if (caller.kind === 'invalid') {
      if (settings.onInvalidHeader === 'reject') {
        refuseInvalidHeader(request, reply, caller.header, caller.reason)
        return
      }
      request.log.debug({ header: caller.header, reason: caller.reason }, 'malformed deadline header ignored')
    }
    if (caller.kind === 'budget') metrics?.observeCallerBudget(caller.ms)
    let timeoutMs = routeMs
    if (caller.kind === 'budget') {
      const admission = resolveBudget(policy, caller.ms)
      if (admission.kind === 'refuse') {
        request.log.info({ callerBudgetMs: admission.callerMs }, 'request refused: its budget is already spent')
        refuseSpent(reply, admission.availableMs, `The caller's budget of ${admission.callerMs} ms leaves ${Math.floor(admission.availableMs)} ms, less than the ${settings.minimumMs} ms this server needs to start.`, tally)
        return
      }
      timeoutMs = admission.timeoutMs
    }
    const deadline = new Deadline({ timeoutMs, startedAt: arrivedAt(request, arrival), forwardHeader: settings.header, clock: settings.clock, tally })
    // Time spent in onRequest hooks that ran before this one counts too.
    const leftMs = deadline.remainingMs()
    if (leftMs < settings.minimumMs || leftMs === 0) {
      request.log.info({ timeoutMs, leftMs: Math.floor(leftMs) }, 'request refused: its budget was spent before its route')
      refuseSpent(reply, timeoutMs, `The request's deadline of ${Math.floor(timeoutMs)} ms had ${Math.floor(leftMs)} ms left when it reached its route, less than the ${settings.minimumMs} ms this server needs to start.`, tally)
      return
    }
    stateFor(request).deadline = deadline
    // The timer and the disconnect watch are set up at the end of this turn
    // of the event loop, and only if the request is still running then.
    arming.add(reply)
    done()
  }
}

function deadlineOnSend (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void): void {
  markAnswered(reply, payload)
  done(null, payload)
}

/** An error is being answered: that answer is not replaced by a 504. */
function deadlineOnError (_request: FastifyRequest, reply: FastifyReply, _error: unknown, done: () => void): void {
  markAnswered(reply, undefined)
  done()
}

/**
 * An async handler's answer as Fastify is handed it: Fastify's callbacks
 * run in the very reaction in which the handler's promise settles. A
 * promise of this plugin's own in between cost every request a second
 * reaction, a microtask and a look for `then` on the answer, some 400
 * instructions. What it does there: the answer is marked as soon as the
 * handler settles, before slow preSerialization or onSend hooks run, and
 * the rejection of a handler that was still running when its deadline
 * passed or its client left is dropped (Fastify would log it as an error):
 * that request is settled, and the rejection is usually the abort this
 * plugin caused.
 */
class SettlingWithDeadline implements PromiseLike<unknown> {
  readonly #result: PromiseLike<unknown>
  readonly #request: FastifyRequest
  readonly #reply: FastifyReply

  constructor (result: PromiseLike<unknown>, request: FastifyRequest, reply: FastifyReply) {
    this.#result = result
    this.#request = request
    this.#reply = reply
  }

  then<Fulfilled = unknown, Rejected = never> (
    onFulfilled?: ((value: unknown) => Fulfilled | PromiseLike<Fulfilled>) | null,
    onRejected?: ((reason: unknown) => Rejected | PromiseLike<Rejected>) | null
  ): PromiseLike<Fulfilled | Rejected> {
    const request = this.#request
    const reply = this.#reply
    return this.#result.then((value: unknown) => {
      if (value !== undefined && value !== reply) markAnswered(reply, value)
      return typeof onFulfilled === 'function' ? onFulfilled(value) : value as Fulfilled
    }, (error: unknown) => {
      const outcome = deadlineOf(request)?.outcome
      if (outcome === 'deadline-exceeded' || outcome === 'client-closed') {
        request.log.debug({ err: error }, 'handler failed after its request ended; dropped')
        const kept = keptHandler(request)
        if (kept !== undefined) kept.failedAfterAnswer = true
        return typeof onFulfilled === 'function' ? onFulfilled(undefined) : undefined as Fulfilled
      }
      if (typeof onRejected !== 'function') throw error
      return onRejected(error)
    })
  }
}

/** Hands Fastify the handler's answer through {@link SettlingWithDeadline} when it is a promise; marks any other answer at once. */
function settleWithDeadline (handler: RouteHandlerMethod): RouteHandlerMethod {
  return function deadlineAwareHandler (this: FastifyInstance, request, reply) {
    const result: unknown = handler.call(this, request, reply)
    if (typeof (result as PromiseLike<unknown> | undefined)?.then !== 'function') {
      if (result !== undefined) markAnswered(reply, result)
      return result
    }
    return new SettlingWithDeadline(result as PromiseLike<unknown>, request, reply)
  }
}

/**
 * Gives every request a deadline that shrinks down the call chain, refuses
 * requests that are already out of time, answers 504 at the deadline and
 * aborts the work in flight.
 */
const deadlinesPlugin: FastifyPluginAsync<DeadlinesOptions> = async function deadlines (app, options) {
  registerOnce(app, 'fastify-resilience/deadlines')
  const settings = resolveDeadlinesOptions(options)
  for (const [slug, definition] of Object.entries(DEADLINE_PROBLEM_TYPES)) app.problemTypes.register(slug, definition)

  const unbounded = unboundedDeadline(settings.header, settings.clock)
  // One queue per route timeout value, shared by the routes that use it.
  const queues = new Map<number, DeadlineQueue<FastifyReply>>()
  const addQueue = (timeoutMs: number): void => {
    if (!queues.has(timeoutMs)) queues.set(timeoutMs, new DeadlineQueue(timeoutMs, settings.clock, onDeadlinePassed))
  }
  const arming = new EndOfTurnBatch<FastifyReply>((reply) => arm(reply, queues))
  const hub = metricsHubOf(app)
  const metrics = hub === undefined ? undefined : new DeadlineMetrics(hub)
  app.addHook('onClose', async () => {
    for (const queue of queues.values()) queue.close()
  })
  declareRequestState(app)
  app.decorateRequest('deadline', {
    getter (this: FastifyRequest): RequestDeadline {
      return deadlineOf(this) ?? optedOutDeadline(this, settings) ?? unbounded
    },
  })

  // Context-level hooks run in registration order, so these run before the
  // hooks the application adds after registering this plugin: the arrival
  // is stamped before slow onRequest hooks (the deadline counts from there,
  // not from the route's own hook), and an answer is marked before slow
  // onError or onSend hooks.
  const arrival = arrivalSlot(app, settings.clock)
  app.addHook('onError', deadlineOnError)
  app.addHook('onSend', deadlineOnSend)

  const hookContext: RouteHookContext = { settings, arming, arrival, metrics }
  const isAddedHead = addedHeadRoutes(app)
  app.addHook('onRoute', (routeOptions) => {
    const label = routeLabel(routeOptions)
    const addedHead = isAddedHead(routeOptions)
    const timeoutMs = resolveRouteDeadline(routeOptions.config?.deadline, settings, label)
    if (timeoutMs === false) {
      appendRouteHook(routeOptions, 'onRequest', keepReplyOfOptedOut)
      return
    }
    addQueue(timeoutMs)
    const onRequest = createOnRequest(hookContext, timeoutMs, metrics?.forRoute(label, !addedHead))
    // A websocket lives as long as its client talks: the default deadline
    // would cut it mid-conversation. Its route's plain requests keep theirs,
    // and a config.deadline of its own bounds the websocket's life too.
    const leavesUpgrades = routeOptions.config?.deadline === undefined && servesWebsockets(routeOptions)
    appendRouteHook(routeOptions, 'onRequest', leavesUpgrades ? skippingUpgrades(onRequest) : onRequest)
    // Wrapped as a websocket handler, it would be handed the socket for a
    // reply, and an async handler's rejection would never reach
    // @fastify/websocket's errorHandler: left unhandled, it ends the process.
    if (!handlerMayBeWebsocket(routeOptions)) routeOptions.handler = settleWithDeadline(routeOptions.handler)
  })
}

/**
 * On a route that opted out, keeps the reply, so that `request.deadline`,
 * once read, can end with the response: its sub-budgets' timers cleared,
 * its signal aborted when the client goes away.
 */
function keepReplyOfOptedOut (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  stateFor(request).optedOut = { reply, deadline: undefined }
  done()
}

/**
 * `request.deadline` on a route that opted out: no time limit, but an end.
 * Made on first read, as few handlers of such routes read it.
 */
function optedOutDeadline (request: FastifyRequest, settings: ResolvedDeadlinesOptions): RequestDeadline | undefined {
  const optedOut = stateOf(request)?.optedOut
  if (optedOut == null) return undefined
  if (optedOut.deadline !== undefined) return optedOut.deadline
  const end = new Deadline({ timeoutMs: Number.POSITIVE_INFINITY, forwardHeader: settings.header, clock: settings.clock })
  const response = optedOut.reply.raw
  const ended = (): void => {
    if (response.writableEnded) end.finish()
    else end.clientClosed()
  }
  onResponseClosed(response, ended)
  optedOut.deadline = unboundedDeadline(settings.header, settings.clock, end)
  return optedOut.deadline
}

/** The cascading deadlines capability as a Fastify plugin; needs {@link problemDetails}. */
export const deadlines = fp(deadlinesPlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/deadlines',
  dependencies: ['fastify-resilience/problem-details'],
})

export type { DeadlinesOptions, RequestDeadline, RouteDeadlineConfig }
