import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'

/*
 * Marks that one capability leaves on a request for another to read: the
 * load shedder marks the requests it refused and chaos the answers it broke,
 * so that the error budget can count them under their own labels. The
 * marks are bits of one request slot, declared with a 0 default so that
 * every request keeps the same shape: reading them all costs one property
 * read, where a WeakSet per mark cost a hash lookup each on every answer.
 */
const kMarks = Symbol('fastify-resilience.outcome-marks')
const SHED = 1
const CHAOS = 2
const SPENT = 4

type Slots = Record<typeof kMarks, number | undefined>

/** Declares the slot; called by every capability that marks or reads, once per context. */
export function declareOutcomeMarks (app: FastifyInstance): void {
  if (!app.hasRequestDecorator(kMarks as unknown as string)) app.decorateRequest(kMarks as unknown as string, 0)
}

function mark (request: FastifyRequest, bit: number): void {
  const slots = request as unknown as Slots
  slots[kMarks] = (slots[kMarks] ?? 0) | bit
}

function unmark (request: FastifyRequest, bit: number): void {
  const slots = request as unknown as Slots
  slots[kMarks] = (slots[kMarks] ?? 0) & ~bit
}

function has (request: FastifyRequest, bit: number): boolean {
  return (((request as unknown as Slots)[kMarks] ?? 0) & bit) !== 0
}

export function markShed (request: FastifyRequest): void {
  mark(request, SHED)
}

export function wasShed (request: FastifyRequest): boolean {
  return has(request, SHED)
}

/** The request's answer was broken on purpose by a chaos fault. */
export function markChaos (request: FastifyRequest): void {
  mark(request, CHAOS)
}

/** The fault that marked the request ended and let it proceed normally: its answer is the route's own. */
export function unmarkChaos (request: FastifyRequest): void {
  unmark(request, CHAOS)
}

export function wasChaos (request: FastifyRequest): boolean {
  return has(request, CHAOS)
}

/** The request arrived with its caller's budget already spent and got a 504 before any work. */
export function markRefusedForDeadline (request: FastifyRequest): void {
  mark(request, SPENT)
}

export function wasRefusedForDeadline (request: FastifyRequest): boolean {
  return has(request, SPENT)
}

/** The status and headers a reply held, as its handler had set them. */
export interface ReplySnapshot {
  statusCode: number
  headers: Record<string, number | string | string[] | undefined>
}

/**
 * A request whose handler must run to its end and have its own answer
 * seen even when its client has left or has been answered by the deadline:
 * it holds an idempotency key, and every retry must get that answer.
 */
export interface KeptHandler {
  /** Set by the deadline just before it answers 504 in the handler's place. */
  replyBeforeDeadline: ReplySnapshot | null
}

// A request slot, like the marks: set and cleared on every idempotent request.
const kKept = Symbol('fastify-resilience.kept-handler')

type KeptSlot = Record<typeof kKept, KeptHandler | null | undefined>

/** Declares the slot; called by the capability that keeps handlers running, once per context. */
export function declareKeptHandler (app: FastifyInstance): void {
  if (!app.hasRequestDecorator(kKept as unknown as string)) app.decorateRequest(kKept as unknown as string, null)
}

export function keepHandlerRunning (request: FastifyRequest, kept: KeptHandler): void {
  (request as unknown as KeptSlot)[kKept] = kept
}

export function stopKeepingHandler (request: FastifyRequest): void {
  (request as unknown as KeptSlot)[kKept] = null
}

export function keptHandler (request: FastifyRequest): KeptHandler | undefined {
  return (request as unknown as KeptSlot)[kKept] ?? undefined
}

/*
 * A request that ends without an answer never reaches onSend, where the
 * error budget classifies answers: the deadline gives up on a request whose
 * client left (it hijacks the reply). Its route's recorder is kept in the
 * route's config, so that such a request is still counted without any
 * per-request cost for the others.
 */
const kUnanswered = Symbol('fastify-resilience.unanswered')

type Recorder = (request: FastifyRequest, reply: FastifyReply) => void
type UnansweredConfig = Record<typeof kUnanswered, Recorder | undefined>

/** Calls `recorder` for the route's requests that end without an answer. */
export function onUnanswered (routeOptions: RouteOptions, recorder: Recorder): void {
  // A copy: the route's config object may be the application's, shared by other routes.
  routeOptions.config = { ...routeOptions.config, [kUnanswered]: recorder } as NonNullable<RouteOptions['config']>
}

/** The request ends here without an answer (its client left). */
export function reportUnanswered (request: FastifyRequest, reply: FastifyReply): void {
  // Called from a socket's close listener, where a throw would take the process down.
  try {
    (request.routeOptions.config as unknown as UnansweredConfig)[kUnanswered]?.(request, reply)
  } catch (error) {
    request.log.error({ err: error }, 'the outcome of a request whose client left could not be recorded')
  }
}
