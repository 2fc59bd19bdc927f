// fastify-resilience/deadlines: cascading request deadlines.
export { deadlines } from '../deadlines.js'
export type { DeadlinesOptions, RequestDeadline, RouteDeadlineConfig } from '../deadlines.js'
export { withDeadline } from '../../src/deadline/index.js'
export type { ChildDeadline, DeadlineHeaders, DeadlineInit, DeadlineOutcome, WithDeadline } from '../../src/deadline/index.js'
export { monotonicClock, wallClock } from '../../src/clock.js'
export type { Clock } from '../../src/clock.js'
