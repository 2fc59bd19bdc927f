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
