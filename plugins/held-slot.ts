import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { AdmissionController } from '../src/load-shedding/index.js'
import { isStream } from '../src/payload.js'
import { stateOf } from './request-state.js'

/**
 * A slot held by an admitted request. It is given back as soon as an
 * answer that is not a stream is sent (the route's onSend hook), or at the
 * end of the turn it was taken in if the response is over by then
 * (hijacked replies); a response still going at the end of that turn (a
 * handler awaiting I/O, a stream) gives it back when it closes, finished
 * or cut. A 'close' listener on every response cost each request some 600
 * instructions in EventEmitter's megamorphic paths, and most requests are
 * answered before their turn ends.
 */
export class HeldSlot {
  released = false
  readonly reply: FastifyReply
  readonly controller: AdmissionController
  readonly startedAt: number
  readonly inFlightAtStart: number

  constructor (reply: FastifyReply, controller: AdmissionController, startedAt: number) {
    this.reply = reply
    this.controller = controller
    this.startedAt = startedAt
    this.inFlightAtStart = controller.inFlight
  }

  release (): void {
    if (this.released) return
    this.released = true
    this.controller.release(this.startedAt, this.inFlightAtStart)
  }
}

/** End of the turn a slot was taken in: a response over by now gives it back; any other, when it closes. */
export function settleAtEndOfTurn (slot: HeldSlot): void {
  if (slot.released) return
  const raw = slot.reply.raw
  if (raw.writableEnded || raw.destroyed) slot.release()
  else raw.on('close', () => { slot.release() })
}

/** The route's onSend hook: an answer that is not a stream gives its slot back now; a stream's, once written. */
export function sheddingOnSend (request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: HookHandlerDoneFunction): void {
  const slot = stateOf(request)?.slot
  if (slot !== undefined && slot !== null && !isStream(payload)) slot.release()
  done()
}
