import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Deadline, RequestDeadline } from '../src/deadline/index.js'
import type { Claim } from './idempotency-lifecycle.js'
import type { KeptHandler } from './outcome-marks.js'

/*
 * What the capabilities keep on a request, behind one request slot.
 * Fastify's Request constructor copies every decorated slot into each new
 * request with a keyed store of its own, megamorphic since the slots'
 * names differ: a slot per capability cost every request of the umbrella
 * one such store each, where one slot holding an object made on first use
 * costs one store and an allocation.
 */
const kState = Symbol('fastify-resilience.request-state')

export class RequestState {
  /** When the request arrived, on the default clock (arrival.ts); 0 until stamped. */
  arrivedAt = 0
  /** The request's deadline, on a route that has one. */
  deadline: Deadline | null = null
  /** On a route that opted out of deadlines: its reply, and `request.deadline` once read (deadlines.ts). */
  optedOut: OptedOutDeadline | null = null
  /** Outcome marks, bits that one capability leaves for another (outcome-marks.ts). */
  marks = 0
  /** Set while the handler must run to its end for an idempotent retry. */
  kept: KeptHandler | null = null
  /** The idempotency key this request holds. */
  claim: Claim | null = null
  /** The dependencies that answered this request from their fallback. */
  degraded: string[] | null = null
  /** The headers that mark the answer degraded, as set on it; an idempotent replay sends them too. */
  degradedHeaders: string[] | null = null
  /** How many keyed calls of each kind (dependency and call) the request made, for their derived idempotency keys. */
  keyedCalls: Map<string, number> | null = null
}

/** What a request on a route without a deadline needs for `request.deadline` to end with it. */
export interface OptedOutDeadline {
  reply: FastifyReply
  deadline: RequestDeadline | undefined
}

type StateSlot = Record<typeof kState, RequestState | null | undefined>

/** Declares the slot; called by every capability that keeps state on requests, once per context. */
export function declareRequestState (app: FastifyInstance): void {
  if (!app.hasRequestDecorator(kState as unknown as string)) app.decorateRequest(kState as unknown as string, null)
}

/** The request's state, or undefined while no capability has written any. */
export function stateOf (request: FastifyRequest): RequestState | undefined {
  return (request as unknown as StateSlot)[kState] ?? undefined
}

/** The request's state, made on first write. */
export function stateFor (request: FastifyRequest): RequestState {
  const slot = request as unknown as StateSlot
  slot[kState] ??= new RequestState()
  return slot[kState]
}
