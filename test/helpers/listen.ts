import type { FastifyInstance } from 'fastify'

/** Listens on a free loopback port and returns the port. */
export async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new TypeError('the app has no TCP address')
  return address.port
}
