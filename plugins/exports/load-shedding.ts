// fastify-resilience/load-shedding: admission control with Retry-After.
// Loads @fastify/under-pressure.
export { loadShedding } from '../load-shedding.js'
export type { LoadSheddingOptions, LoadSheddingStats, RouteSheddingConfig, Priority } from '../load-shedding.js'
export type { AdaptiveLimitOptions, PressureOptions, ShedReason, BulkheadStats } from '../../src/load-shedding/index.js'
export { PRIORITIES, SHED_REASONS } from '../../src/load-shedding/index.js'
export { monotonicClock, wallClock } from '../../src/clock.js'
export type { Clock } from '../../src/clock.js'
