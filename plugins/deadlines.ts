import fp from 'fastify-plugin'
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  RouteHandlerMethod,
} from 'fastify'
import { ConnectionTracker } from '../src/connection/tracker.js'
import {
  DEADLINE_PROBLEM_TYPES,
  Deadline,
  DeadlineQueue,
  EndOfTurnBatch,
  readCallerBudget,
  resolveBudget,
  resolveDeadlinesOptions,
  resolveRouteDeadline,
  unboundedDeadline,
} from '../src/deadline/index.js'
import type { DeadlinesOptions, RequestDeadline, ResolvedDeadlinesOptions, RouteDeadlineConfig } from '../src/deadline/index.js'
import type { ServerResponse } from 'node:http'
import { appendRouteHook, routeLabel } from './route-options.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's deadline; `false` opts the route out (e.g. for streaming). */
    deadline?: RouteDeadlineConfig | false
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

const kDeadline = Symbol('fastify-resilience.deadline')
const kReply = Symbol('fastify-resilience.reply')

interface DeadlineCarrier {
  [kDeadline]: Deadline | null
}

interface ReplyCarrier {
  [kReply]?: FastifyReply
}

function deadlineOf (request: FastifyRequest): Deadline | null {
  return (request as unknown as DeadlineCarrier)[kDeadline]
}

function refuseInvalidHeader (request: FastifyRequest, reply: FastifyReply, header: string, reason: string): void {
  request.log.info({ header, reason }, 'malformed deadline header refused')
  reply.problem({ type: 'invalid-deadline', detail: `The ${header} header is invalid: ${reason}.`, header })
}

function onDeadlinePassed (reply: FastifyReply): void {
  const request = reply.request
  const deadline = deadlineOf(request)
  if (deadline === null) return
  if (reply.raw.writableEnded) {
    // A hijacked reply that ended on its own, without passing onSend.
    release(reply, deadline)
    return
  }
  deadline.expire()
  request.log.warn({ timeoutMs: deadline.timeoutMs }, 'deadline exceeded; answering 504')
  // An abort listener may have answered by itself.
  if (reply.raw.writableEnded) return
  if (reply.raw.headersSent || reply.sent) {
    // A response already under way (or taken over with reply.hijack())
    // cannot turn into a problem; cut it short.
    reply.raw.destroy()
    return
  }
  reply.problem({
    type: 'deadline-exceeded',
    detail: `The request did not complete within its deadline of ${Math.round(deadline.timeoutMs)} ms.`,
    timeoutMs: Math.round(deadline.timeoutMs),
  })
  // Tells Fastify that the handler's eventual result must not be sent.
  reply.hijack()
}

function onConnectionClosed (reply: FastifyReply): void {
  const request = reply.request
  const deadline = deadlineOf(request)
  if (deadline === null) return
  // writableEnded, not writableFinished: HTTP/2 reports a reset stream as
  // finished although nothing was sent on it.
  if (reply.raw.writableEnded || deadline.outcome !== 'pending') {
    release(reply, deadline)
    return
  }
  deadline.clientClosed()
  request.log.info('client closed the connection before the response; its work was aborted')
  if (!reply.sent) reply.hijack()
}

/**
 * One tracker for every instance of the plugin: what it calls back needs
 * nothing but the reply, and one listener per connection is all it costs.
 */
const connections = new ConnectionTracker<FastifyReply>(onConnectionClosed)

/** The deadline no longer applies: clears its timers and stops watching the client. */
function release (reply: FastifyReply, deadline: Deadline): void {
  deadline.finish()
  const raw = reply.request.raw
  if (raw.httpVersionMajor === 1) connections.delete(raw.socket, reply)
}

/** The response's 'close' listener; `this` is the raw response. */
function onResponseClose (this: ServerResponse & ReplyCarrier): void {
  const reply = this[kReply]
  if (reply !== undefined) onConnectionClosed(reply)
}

/**
 * Drops the rejection of a handler that was still running when its deadline
 * passed or its client left: that answer is settled, and the rejection is
 * usually the abort this plugin caused.
 */
function dropLateRejections (handler: RouteHandlerMethod): RouteHandlerMethod {
  return function deadlineAwareHandler (this: FastifyInstance, request, reply) {
    const result: unknown = handler.call(this, request, reply)
    if (typeof (result as Promise<unknown> | undefined)?.then !== 'function') return result
    return (result as Promise<unknown>).then(undefined, (error: unknown) => {
      const outcome = deadlineOf(request)?.outcome
      if (outcome === 'deadline-exceeded' || outcome === 'client-closed') {
        request.log.debug({ err: error }, 'handler failed after its request ended; dropped')
        return undefined
      }
      throw error
    })
  }
}

/**
 * Watches for the client leaving: per connection over HTTP/1 (a client can
 * only leave by closing it), per response over HTTP/2 (a stream can be
 * reset while its connection lives on).
 */
function watchClient (reply: FastifyReply): void {
  const raw = reply.request.raw
  if (raw.httpVersionMajor === 1) {
    connections.add(raw.socket, reply)
    return
  }
  if (reply.raw.destroyed) {
    onConnectionClosed(reply)
    return
  }
  (reply.raw as ServerResponse & ReplyCarrier)[kReply] = reply
  reply.raw.on('close', onResponseClose)
}

function createOnRequest (settings: ResolvedDeadlinesOptions, routeTimeoutMs: number, arming: EndOfTurnBatch<FastifyReply>) {
  const policy = { routeTimeoutMs, safetyMarginMs: settings.safetyMarginMs, minimumMs: settings.minimumMs }
  return function deadlineOnRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const caller = readCallerBudget(request.headers, settings.readers)
    if (caller.kind === 'invalid') {
      if (settings.onInvalidHeader === 'reject') {
        refuseInvalidHeader(request, reply, caller.header, caller.reason)
        return
      }
      request.log.debug({ header: caller.header, reason: caller.reason }, 'malformed deadline header ignored')
    }
    const admission = resolveBudget(policy, caller.kind === 'budget' ? caller.ms : undefined)
    if (admission.kind === 'refuse') {
      request.log.info({ callerBudgetMs: admission.callerMs }, 'request refused: its budget is already spent')
      reply.problem({
        type: 'deadline-exceeded',
        detail: `The caller's budget of ${admission.callerMs} ms leaves ${Math.floor(admission.availableMs)} ms, less than the ${settings.minimumMs} ms this server needs to start.`,
        timeoutMs: Math.floor(admission.availableMs),
      })
      return
    }
    ;(request as unknown as DeadlineCarrier)[kDeadline] = new Deadline({ timeoutMs: admission.timeoutMs, forwardHeader: settings.header, clock: settings.clock })
    // The timer and the disconnect watch are set up at the end of this turn
    // of the event loop, and only if the request is still running then.
    arming.add(reply)
    done()
  }
}

/** Once the handler has answered, the deadline no longer applies: a response on its way is not replaced by a 504. */
function deadlineOnSend (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void): void {
  const deadline = deadlineOf(request)
  if (deadline !== null) release(reply, deadline)
  done(null, payload)
}

/**
 * Gives every request a deadline that shrinks down the call chain, refuses
 * requests that are already out of time, answers 504 at the deadline and
 * aborts the work in flight.
 */
const deadlinesPlugin: FastifyPluginAsync<DeadlinesOptions> = async function deadlines (app, options) {
  const settings = resolveDeadlinesOptions(options)
  for (const [slug, definition] of Object.entries(DEADLINE_PROBLEM_TYPES)) app.problemTypes.register(slug, definition)

  const unbounded = unboundedDeadline(settings.header, settings.clock)
  // One queue per route timeout value, shared by the routes that use it.
  const queues = new Map<number, DeadlineQueue<FastifyReply>>()
  const addQueue = (timeoutMs: number): void => {
    if (!queues.has(timeoutMs)) queues.set(timeoutMs, new DeadlineQueue(timeoutMs, settings.clock, onDeadlinePassed))
  }
  const arming = new EndOfTurnBatch<FastifyReply>((reply) => {
    const deadline = deadlineOf(reply.request)
    if (deadline === null || deadline.outcome !== 'pending') return
    // A route-length deadline joins its route's queue; a caller's shorter
    // budget gets a timer of its own.
    const queue = queues.get(deadline.timeoutMs)
    if (queue === undefined) deadline.start(onDeadlinePassed, reply)
    else deadline.join(queue, reply)
    watchClient(reply)
  })
  app.addHook('onClose', async () => {
    for (const queue of queues.values()) queue.close()
  })
  app.decorateRequest(kDeadline as unknown as string, null)
  app.decorateRequest('deadline', {
    getter (this: FastifyRequest): RequestDeadline {
      return (this as unknown as DeadlineCarrier)[kDeadline] ?? unbounded
    },
  })

  // A context-level hook, so that it runs before the onSend hooks the
  // application adds later: a slow onSend must not turn an answer into a 504.
  app.addHook('onSend', deadlineOnSend)

  app.addHook('onRoute', (routeOptions) => {
    const timeoutMs = resolveRouteDeadline(routeOptions.config?.deadline, settings, routeLabel(routeOptions))
    if (timeoutMs === false) return
    addQueue(timeoutMs)
    appendRouteHook(routeOptions, 'onRequest', createOnRequest(settings, timeoutMs, arming))
    routeOptions.handler = dropLateRejections(routeOptions.handler)
  })
}

/** The cascading deadlines capability as a Fastify plugin; needs {@link problemDetails}. */
export const deadlines = fp(deadlinesPlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/deadlines',
  dependencies: ['fastify-resilience/problem-details'],
})

export type { DeadlinesOptions, RequestDeadline, RouteDeadlineConfig }
