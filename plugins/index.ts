// fastify-resilience: the umbrella plugin and every capability's exports.
// Each capability is also its own subpath (fastify-resilience/deadlines,
// ...), which loads only that capability's dependencies.
import { resilience } from './resilience.js'

export { resilience }
export type { ResilienceOptions } from './resilience.js'
export * from './exports/problem-details.js'
export * from './exports/deadlines.js'
export * from './exports/health.js'
export * from './exports/dependencies.js'
export * from './exports/load-shedding.js'
export * from './exports/chaos.js'
export * from './exports/error-budget.js'
export * from './exports/idempotency.js'
export * from './exports/metrics.js'
export * from './exports/status-page.js'

export default resilience
