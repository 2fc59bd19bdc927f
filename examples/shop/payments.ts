import Fastify from 'fastify'

/** How the simulated payment provider behaves; change it while it runs. */
export interface PaymentsBehaviour {
  /** Added to every charge, in milliseconds. */
  latencyMs: number
  /** Share of charges that fail with a 500, from 0 to 1. */
  failureRate: number
  /** Down: connections are accepted and never answered, as by a host that hangs. */
  down: boolean
}

/** What the provider saw of the last charge request. */
export interface ChargeObservation {
  /** The budget header the shop forwarded, if any. */
  budgetHeader: string | undefined
  /** True when the shop hung up before the provider answered; such charges are not made. */
  abandoned: boolean
}

export interface PaymentsService {
  url: string
  behaviour: PaymentsBehaviour
  /** Resolves once the last charge request has been answered or abandoned. */
  lastCharge: () => Promise<ChargeObservation | undefined>
  /** How many charges succeeded: what customers were billed for. */
  readonly charges: number
  /** How many charge requests reached the provider, answered or not. */
  readonly received: number
  /** Stops the service; later calls to the shop find the port closed. Safe to call twice. */
  close: () => Promise<void>
}

/**
 * A flaky downstream "payments" service on its own port, so that the shop
 * talks to it over real HTTP like it would to a real provider.
 */
export async function startPayments (initial: Partial<PaymentsBehaviour> = {}, random: () => number = Math.random): Promise<PaymentsService> {
  const behaviour: PaymentsBehaviour = { latencyMs: initial.latencyMs ?? 20, failureRate: initial.failureRate ?? 0, down: initial.down ?? false }
  let charges = 0
  let received = 0
  let last: Promise<ChargeObservation> | undefined
  // Closing the provider drops its connections at once, as a crash would.
  const app = Fastify({ forceCloseConnections: true })
  app.post<{ Body: { amount: number } }>('/charges', async (request, reply) => {
    received += 1
    if (behaviour.down) {
      // Hangs until the caller gives up.
      await new Promise((resolve) => reply.raw.once('close', resolve))
      return reply.hijack()
    }
    const budgetHeader = request.headers['x-request-timeout-ms'] as string | undefined
    const abandoned = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), behaviour.latencyMs)
      reply.raw.once('close', () => {
        clearTimeout(timer)
        resolve(!reply.raw.writableFinished)
      })
    })
    last = abandoned.then((wasAbandoned) => ({ budgetHeader, abandoned: wasAbandoned }))
    if (await abandoned) return reply.hijack()
    if (random() < behaviour.failureRate) return reply.code(500).send({ error: 'card processor unavailable' })
    charges += 1
    return reply.code(201).send({ id: `ch_${charges}`, amount: request.body.amount })
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  let closing: Promise<void> | undefined
  return {
    url,
    behaviour,
    lastCharge: async () => await last,
    get charges () { return charges },
    get received () { return received },
    close: () => (closing ??= app.close()),
  }
}
