import type { FastifyRequest } from 'fastify'

/*
 * Marks that one capability leaves on a request for another to read: the
 * load shedder marks the requests it refused, so that the error budget can
 * count them under their own label. A WeakSet keeps the request's shape
 * untouched and forgets the request with it.
 */
const shedRequests = new WeakSet<FastifyRequest>()

export function markShed (request: FastifyRequest): void {
  shedRequests.add(request)
}

export function wasShed (request: FastifyRequest): boolean {
  return shedRequests.has(request)
}
