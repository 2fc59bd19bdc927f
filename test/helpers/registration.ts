import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'

/** Registers plugins and routes on a fresh app and returns the error that startup failed with. */
export async function registrationError (register: (app: FastifyInstance) => unknown): Promise<Error> {
  const app = Fastify()
  try {
    await register(app)
    await app.ready()
  } catch (error) {
    return error as Error
  } finally {
    await app.close()
  }
  throw new Error('registration succeeded although it was expected to fail')
}
