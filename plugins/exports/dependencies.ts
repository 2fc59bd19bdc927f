// fastify-resilience/dependencies: outbound calls with breakers, retry
// budgets, bulkheads and fallbacks. Loads cockatiel; ioredis only as types.
export { dependencies, DEPENDENCY_STATE_CHANNEL } from '../dependencies.js'
export type { Dependencies, DependenciesOptions, DependencyClient, DependencyStateChange, DependencyCallOptions, DependencyOptions, DependencyStats } from '../dependencies.js'
export { isDependencyError, DEPENDENCY_PROBLEM_TYPES } from '../../src/dependencies/index.js'
export type {
  BreakerStateName,
  BulkheadOptions,
  CoalesceOptions,
  ConsecutiveBreakerOptions,
  DependencyError,
  DependencyFailure,
  DependencyFleetOptions,
  FailureReason,
  FallbackOption,
  HedgeOptions,
  RateBreakerOptions,
  RetryOptions,
} from '../../src/dependencies/index.js'
export { monotonicClock, wallClock } from '../../src/clock.js'
export type { Clock } from '../../src/clock.js'
export type { RedisClient } from '../../src/redis-client.js'
