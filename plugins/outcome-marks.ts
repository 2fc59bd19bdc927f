import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { stateFor, stateOf } from './request-state.js'

/*
 * Marks that one capability leaves on a request for another to read: the
 * load shedder marks the requests it refused and chaos the answers it broke,
 * so that the error budget can count them under their own labels; the
 * error budget marks a streamed answer it counts once its response closes,
 * so that no other path counts it as it is answered. The
 * marks are bits of one number in the request's state: reading them all
 * costs one property read, where a WeakSet per mark cost a hash lookup
 * each on every answer.
 */
const BITS = { shed: 1, chaos: 2, refusedForDeadline: 4, streamed: 8 } as const

/** A mark one capability leaves on a request for another. */
export type OutcomeMark = keyof typeof BITS

function mark (request: FastifyRequest, bit: number): void {
  stateFor(request).marks |= bit
}

function unmark (request: FastifyRequest, bit: number): void {
  const state = stateOf(request)
  if (state !== undefined) state.marks &= ~bit
}

/**
 * Whether `marks`, a request state's marks, hold `mark`. A reader that
 * tests several (the error budget, on every answer) looks at the state
 * once and tests the number it read.
 */
export function hasMark (marks: number, mark: OutcomeMark): boolean {
  return (marks & bitOf(mark)) !== 0
}

/**
 * A switch rather than `BITS[mark]`: V8 makes a lookup by name that sees
 * several names megamorphic, and the error budget's three tests on every
 * answer then cost about 100 instructions each.
 */
function bitOf (mark: OutcomeMark): number {
  switch (mark) {
    case 'shed': return BITS.shed
    case 'chaos': return BITS.chaos
    case 'refusedForDeadline': return BITS.refusedForDeadline
    case 'streamed': return BITS.streamed
  }
}

export function markShed (request: FastifyRequest): void {
  mark(request, BITS.shed)
}

/** The request's answer was broken on purpose by a chaos fault. */
export function markChaos (request: FastifyRequest): void {
  mark(request, BITS.chaos)
}

/** The fault that marked the request ended and let it proceed normally: its answer is the route's own. */
export function unmarkChaos (request: FastifyRequest): void {
  unmark(request, BITS.chaos)
}

/** The request arrived with its caller's budget already spent and got a 504 before any work. */
export function markRefusedForDeadline (request: FastifyRequest): void {
  mark(request, BITS.refusedForDeadline)
}

/** The request's answer is a stream, counted by the error budget once its response closes. */
export function markStreamed (request: FastifyRequest): void {
  mark(request, BITS.streamed)
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
  /** Set by the deadline when the handler fails after its request was answered: the failure is dropped, and its promise settles empty. */
  failedAfterAnswer: boolean
}

export function keepHandlerRunning (request: FastifyRequest, kept: KeptHandler): void {
  stateFor(request).kept = kept
}

export function stopKeepingHandler (request: FastifyRequest): void {
  const state = stateOf(request)
  if (state !== undefined) state.kept = null
}

export function keptHandler (request: FastifyRequest): KeptHandler | undefined {
  return stateOf(request)?.kept ?? undefined
}

/*
 * The response headers that mark an answer degraded (the dependencies'
 * `degradedHeader`), by the context the dependencies plugin was registered
 * in. An idempotent replay sends them besides its allow-list, since the
 * replay is that degraded answer; read from the route's own context, so
 * that neither plugin's place in the order nor in the encapsulation tree
 * changes what a replay sends.
 */
const degradedHeadersIn = new WeakMap<object, readonly string[]>()

/** The dependencies plugin registered in `app` marks degraded answers with these headers (lower case). */
export function declareDegradedHeaders (app: FastifyInstance, names: readonly string[]): void {
  degradedHeadersIn.set(app, names)
}

/** The headers that mark a degraded answer in `app`'s context: declared there or in a context it inherits from. */
export function degradedHeadersOf (app: FastifyInstance): readonly string[] {
  // Fastify builds a child context with Object.create(parent).
  for (let context: object | null = app; context !== null; context = Object.getPrototypeOf(context) as object | null) {
    const names = degradedHeadersIn.get(context)
    if (names !== undefined) return names
  }
  return []
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
