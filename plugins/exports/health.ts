// fastify-resilience/health: liveness, readiness and graceful shutdown.
export { health } from '../health.js'
export type { Health, HealthOptions, HealthRouteOptions, HealthDocument, HealthCheckEntry, HealthCheck, ShutdownOptions, LifecyclePhase } from '../health.js'
export { HEALTH_CONTENT_TYPE } from '../../src/health/index.js'
export { monotonicClock, wallClock } from '../../src/clock.js'
export type { Clock } from '../../src/clock.js'
