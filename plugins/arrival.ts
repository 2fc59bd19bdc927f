import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Clock } from '../src/clock.js'

/*
 * The arrival time of each request, stamped by one context-level onRequest
 * hook that every capability reading the same clock shares: deadlines
 * count from it, error budgets measure latency from it. Registered at the
 * first capability's registration, so it runs before the hooks the
 * application adds afterwards and their time counts.
 */

type Slots = Record<symbol, number>

/** The stamps of one Fastify context: a request slot per clock. */
const stampsOf = new WeakMap<object, Map<Clock, symbol>>()

function createStamp (slot: symbol, clock: Clock) {
  return function stampArrival (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    (request as unknown as Slots)[slot] = clock.now()
    done()
  }
}

/**
 * The request slot that holds each request's arrival on `clock`, stamped
 * by a hook added now unless this context (or one it inherits from)
 * stamps one already.
 */
export function arrivalSlot (app: FastifyInstance, clock: Clock): symbol {
  // Fastify builds a child context with Object.create(parent): the hooks of
  // every context up the chain run for this one's routes.
  for (let context: object | null = app; context !== null; context = Object.getPrototypeOf(context) as object | null) {
    const slot = stampsOf.get(context)?.get(clock)
    if (slot !== undefined) return slot
  }
  const slot = Symbol('fastify-resilience.arrived-at')
  app.decorateRequest(slot as unknown as string, 0)
  app.addHook('onRequest', createStamp(slot, clock))
  let stamps = stampsOf.get(app)
  if (stamps === undefined) {
    stamps = new Map()
    stampsOf.set(app, stamps)
  }
  stamps.set(clock, slot)
  return slot
}

/** When the request arrived, on the clock of `slot`. */
export function arrivedAt (request: FastifyRequest, slot: symbol): number {
  return (request as unknown as Slots)[slot] ?? 0
}
