import { buildShop } from './app.js'
import { startPayments } from './payments.js'
import { startRecommendations } from './recommendations-service.js'

// `npm start`: the shop on PORT (default 3000) with its flaky payment
// provider beside it; FAILURE_RATE and LATENCY_MS tune the provider.
const payments = await startPayments({
  failureRate: Number(process.env.FAILURE_RATE ?? 0.2),
  latencyMs: Number(process.env.LATENCY_MS ?? 50),
})
const recommendations = await startRecommendations()
const shop = await buildShop({ paymentsUrl: payments.url, recommendationsUrl: recommendations.url, logger: true, ...(process.env.REDIS_URL === undefined ? {} : { redisUrl: process.env.REDIS_URL }) })
const address = await shop.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
shop.log.info(`live status page (callers on this machine only): ${address}/resilience`)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    shop.close().then(async () => { await payments.close(); await recommendations.close() }).catch((error: unknown) => {
      console.error(error)
      process.exitCode = 1
    })
  })
}
