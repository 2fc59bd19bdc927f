import type { FastifyRequest } from 'fastify'

/*
 * Marks that one capability leaves on a request for another to read: the
 * load shedder marks the requests it refused and chaos the answers it broke,
 * so that the error budget can count them under their own labels. A WeakSet keeps the request's shape
 * untouched and forgets the request with it.
 */
const shedRequests = new WeakSet<FastifyRequest>()
const chaosRequests = new WeakSet<FastifyRequest>()
const spentRequests = new WeakSet<FastifyRequest>()

export function markShed (request: FastifyRequest): void {
  shedRequests.add(request)
}

export function wasShed (request: FastifyRequest): boolean {
  return shedRequests.has(request)
}

/** The request's answer was broken on purpose by a chaos fault. */
export function markChaos (request: FastifyRequest): void {
  chaosRequests.add(request)
}

export function wasChaos (request: FastifyRequest): boolean {
  return chaosRequests.has(request)
}

/** The request arrived with its caller's budget already spent and got a 504 before any work. */
export function markRefusedForDeadline (request: FastifyRequest): void {
  spentRequests.add(request)
}

export function wasRefusedForDeadline (request: FastifyRequest): boolean {
  return spentRequests.has(request)
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

const keptHandlers = new WeakMap<FastifyRequest, KeptHandler>()

export function keepHandlerRunning (request: FastifyRequest, kept: KeptHandler): void {
  keptHandlers.set(request, kept)
}

export function stopKeepingHandler (request: FastifyRequest): void {
  keptHandlers.delete(request)
}

export function keptHandler (request: FastifyRequest): KeptHandler | undefined {
  return keptHandlers.get(request)
}
