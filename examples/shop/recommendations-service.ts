import Fastify from 'fastify'

export interface RecommendationsService {
  url: string
  /** Down: requests are accepted and never answered. */
  behaviour: { down: boolean }
  close: () => Promise<void>
}

/** A partner service that suggests products to a customer, on its own port. */
export async function startRecommendations (): Promise<RecommendationsService> {
  const behaviour = { down: false }
  const app = Fastify({ forceCloseConnections: true })
  app.get<{ Params: { customer: string } }>('/for/:customer', async (request, reply) => {
    if (behaviour.down) {
      await new Promise((resolve) => reply.raw.once('close', resolve))
      return reply.hijack()
    }
    return { customer: request.params.customer, productIds: [2, 3], computedAt: new Date().toISOString() }
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  let closing: Promise<void> | undefined
  return { url, behaviour, close: () => (closing ??= app.close()) }
}
