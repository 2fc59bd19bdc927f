export { Breaker } from './breaker.js'
export type { Admission, BreakerSettings, BreakerState, BreakerStateName, CallResult, HalfOpenGate, Transition, TripRule } from './breaker.js'
export { Bulkhead, BULKHEAD_FULL } from './bulkhead.js'
export { Coalescer } from './coalescer.js'
export { Dependency, UNBOUNDED_CALLER, withOwnSignal } from './dependency.js'
export type { AttemptResult, CallerContext, CallPlan, DependencyStats, InjectedFault } from './dependency.js'
export { derivedIdempotencyKey } from './derived-key.js'
export { DEPENDENCY_PROBLEM_TYPES, dependencyError, isDependencyError, isInjectedDependencyError } from './failure.js'
export type { DependencyError, DependencyFailure, FailureReason } from './failure.js'
export { LastGoodStore } from './last-good.js'
export { LatencySamples } from './latency.js'
export { defaultFailureStatus, resolveDependenciesOptions, resolveFallback } from './options.js'
export type {
  BulkheadOptions,
  CoalesceOptions,
  ConsecutiveBreakerOptions,
  DependencyFleetOptions,
  DependencyOptions,
  FallbackOption,
  HedgeOptions,
  RateBreakerOptions,
  ResolvedDependency,
  ResolvedFallback,
  RetryOptions,
} from './options.js'
export { RetryBudget } from './retry-budget.js'
export type { RetryBudgetOptions } from './retry-budget.js'
export { parseRetryAfter } from './retry-after.js'
export { CALL_OPTION_KEYS, FETCH_OPTION_KEYS, assertCallOptionKeys, callPlan, fetchPlan, retryAfterOfError, statusOfError, toResponse } from './transport.js'
export type { CallOptions, DependencyCallOptions } from './transport.js'
export { SlidingCounts } from './window.js'
