import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { monotonicClock } from '../src/clock.js'
import type { Clock } from '../src/clock.js'
import { declareRequestState, stateFor, stateOf } from './request-state.js'

/*
 * The arrival time of each request, stamped by one context-level onRequest
 * hook that every capability reading the same clock shares: deadlines
 * count from it, error budgets measure latency from it. Registered at the
 * first capability's registration, so it runs before the hooks the
 * application adds afterwards and their time counts.
 *
 * The default clock's stamp is a field of the request's state, made here:
 * a request slot of its own would cost every request one more of the
 * megamorphic stores with which Fastify's Request constructor copies each
 * decorated slot, some 250 instructions, where the umbrella makes the
 * state for every request anyway. A clock given in the options (tests)
 * stamps a slot of its own.
 */

type Slots = Record<symbol, number>

/** Where a request's arrival on one clock is kept: the request state's field (the default clock), or a request slot. */
export type ArrivalSlot = symbol | typeof IN_STATE

const IN_STATE = 'state'

/** The stamps of one Fastify context: where each clock's goes. */
const stampsOf = new WeakMap<object, Map<Clock, ArrivalSlot>>()

function stampArrival (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  stateFor(request).arrivedAt = monotonicClock.now()
  done()
}

function createStamp (slot: symbol, clock: Clock) {
  return function stampArrivalOnClock (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    (request as unknown as Slots)[slot] = clock.now()
    done()
  }
}

/**
 * The request slot that holds each request's arrival on `clock`, stamped
 * by a hook added now unless this context (or one it inherits from)
 * stamps one already.
 */
export function arrivalSlot (app: FastifyInstance, clock: Clock): ArrivalSlot {
  // Fastify builds a child context with Object.create(parent): the hooks of
  // every context up the chain run for this one's routes.
  for (let context: object | null = app; context !== null; context = Object.getPrototypeOf(context) as object | null) {
    const slot = stampsOf.get(context)?.get(clock)
    if (slot !== undefined) return slot
  }
  let slot: ArrivalSlot
  if (clock === monotonicClock) {
    slot = IN_STATE
    declareRequestState(app)
    app.addHook('onRequest', stampArrival)
  } else {
    slot = Symbol('fastify-resilience.arrived-at')
    app.decorateRequest(slot as unknown as string, 0)
    app.addHook('onRequest', createStamp(slot, clock))
  }
  let stamps = stampsOf.get(app)
  if (stamps === undefined) {
    stamps = new Map()
    stampsOf.set(app, stamps)
  }
  stamps.set(clock, slot)
  return slot
}

/** When the request arrived, on the clock of `slot`. */
export function arrivedAt (request: FastifyRequest, slot: ArrivalSlot): number {
  if (slot === IN_STATE) return stateOf(request)?.arrivedAt ?? 0
  return (request as unknown as Slots)[slot] ?? 0
}
