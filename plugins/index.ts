import { resilience } from './resilience.js'

export { resilience }
export type { ResilienceOptions } from './resilience.js'
export { problemDetails, PROBLEM_CONTENT_TYPE } from './problem-details.js'
export { problemClientErrorHandler } from './client-error.js'
export { problemFrameworkErrors } from './framework-errors.js'
export { deadlines } from './deadlines.js'
export type { DeadlinesOptions, RequestDeadline, RouteDeadlineConfig } from './deadlines.js'
export { health } from './health.js'
export type { Health, HealthOptions, HealthDocument, HealthCheckEntry, HealthCheck, ShutdownOptions, LifecyclePhase } from './health.js'
export { HEALTH_CONTENT_TYPE } from '../src/health/index.js'
export { withDeadline } from '../src/deadline/index.js'
export type { ChildDeadline, DeadlineOutcome } from '../src/deadline/index.js'
export { dependencies, DEPENDENCY_STATE_CHANNEL } from './dependencies.js'
export type { Dependencies, DependenciesOptions, DependencyClient, DependencyStateChange, DependencyCallOptions, DependencyOptions, DependencyStats } from './dependencies.js'
export { isDependencyError, DEPENDENCY_PROBLEM_TYPES } from '../src/dependencies/index.js'
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
} from '../src/dependencies/index.js'
export { loadShedding } from './load-shedding.js'
export type { LoadSheddingOptions, LoadSheddingStats, RouteSheddingConfig, Priority } from './load-shedding.js'
export type { AdaptiveLimitOptions, PressureOptions, ShedReason, BulkheadStats } from '../src/load-shedding/index.js'
export { PRIORITIES, SHED_REASONS } from '../src/load-shedding/index.js'
export { chaos } from './chaos.js'
export type { Chaos, DependencyFault, ChaosOptions, ChaosStats, ExperimentSpec, RouteChaosConfig } from './chaos.js'
export type { FaultSpec, FaultType, FaultMatch } from '../src/chaos/index.js'
export { signFault, FAULT_TYPES, DEFAULT_EXCLUDED_ROUTES } from '../src/chaos/index.js'
export { errorBudget } from './error-budget.js'
export type { ErrorBudget, ErrorBudgetOptions, FleetStatus, ObjectiveDefinition, SliStatus, StateChange, AlertRule } from './error-budget.js'
export { RedisErrorBudgetFleet } from './error-budget.js'
export type { RedisErrorBudgetFleetOptions } from '../src/error-budget/index.js'
export { DEFAULT_ALERT_RULES, prometheusRules, slothSpec, openSloSpecs, burnRate } from '../src/error-budget/index.js'
export type { BudgetState, Objective, Sli, OutcomeReason } from '../src/error-budget/index.js'
export { idempotency } from './idempotency.js'
export type { IdempotencyOptions, RouteIdempotencyConfig } from './idempotency.js'
export { MemoryIdempotencyStore, RedisIdempotencyStore, DEFAULT_REPLAY_HEADERS } from '../src/idempotency/index.js'
export type {
  IdempotencyStore,
  ClaimOutcome,
  StoredResponse,
  MemoryIdempotencyStoreOptions,
  RedisIdempotencyStoreOptions,
} from '../src/idempotency/index.js'
export { statusPage } from './status-page.js'
export type { StatusPageOptions, StatusSnapshot } from './status-page.js'
export { metrics } from './metrics.js'
export type { ResilienceMetrics, MetricsOptions, DashboardOptions, GrafanaDashboard } from './metrics.js'
export { CHANNEL_NAMES, grafanaDashboard, resiliencePrometheusRules, MetricsHub } from '../src/metrics/index.js'
export type { ShedMessage, DeadlineExpiredMessage, ReplayedMessage, FaultInjectedMessage, BreakerStateMessage, ScrapedMetric, EventHistogram, SetValue } from '../src/metrics/index.js'
export { monotonicClock } from '../src/clock.js'
export type { Clock } from '../src/clock.js'
export type { ProblemDetailsOptions } from './problem-details.js'
export {
  ProblemError,
  isProblemError,
  ProblemTypeRegistry,
  BUILT_IN_PROBLEM_TYPES,
  DEFAULT_TYPE_BASE,
  GENERIC_SERVER_ERROR_DETAIL,
} from '../src/problem/index.js'
export type {
  ProblemDocument,
  ProblemInit,
  ProblemTypeDefinition,
  ValidationIssue,
} from '../src/problem/index.js'
/** Every error class of the library, built with @fastify/error, by code (`errors.FRS_ERR_OPTION_INVALID`, …). */
export * as errors from '../src/errors.js'

export default resilience
