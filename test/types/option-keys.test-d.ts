import { describe, expectTypeOf, it } from 'vitest'
import { CHAOS_KEYS } from '../../src/chaos/options.js'
import { EXPERIMENT_KEYS } from '../../src/chaos/experiment.js'
import { HEADER_MATCH_KEYS, MATCH_KEYS } from '../../src/chaos/fault.js'
import { DEADLINES_KEYS } from '../../src/deadline/options.js'
import { DEPENDENCY_KEYS } from '../../src/dependencies/options.js'
import { CALL_OPTION_KEYS, FETCH_OPTION_KEYS } from '../../src/dependencies/transport.js'
import { ERROR_BUDGET_KEYS } from '../../src/error-budget/options.js'
import { INDICATOR_KEYS, LATENCY_KEYS, OBJECTIVE_KEYS } from '../../src/error-budget/objective.js'
import { RULES_SETTINGS_KEYS, SPEC_SETTINGS_KEYS } from '../../src/error-budget/rules.js'
import type { RulesSettings, SpecSettings } from '../../src/error-budget/rules.js'
import { ALERT_RULE_KEYS } from '../../src/error-budget/burn-rate.js'
import { PROBLEM_TYPE_KEYS } from '../../src/problem/registry.js'
import { IDEMPOTENCY_KEYS } from '../../src/idempotency/options.js'
import { LIMIT_KEYS, LOAD_SHEDDING_KEYS, PRESSURE_KEYS, ROUTE_SHEDDING_KEYS } from '../../src/load-shedding/options.js'
import { PROBLEM_DETAILS_KEYS } from '../../src/problem/options.js'
import { HEALTH_KEYS, SHUTDOWN_KEYS } from '../../src/health/options.js'
import { METRICS_KEYS } from '../../src/metrics/options.js'
import { DASHBOARD_KEYS } from '../../src/metrics/dashboard.js'
import { STATUS_PAGE_KEYS } from '../../src/status-page/options.js'
import { CAPABILITIES } from '../../plugins/resilience.js'
import { MEMORY_STORE_KEYS } from '../../src/idempotency/memory-store.js'
import { REDIS_STORE_KEYS } from '../../src/idempotency/redis-store.js'
import { FLEET_KEYS } from '../../src/error-budget/fleet.js'
import type {
  AdaptiveLimitOptions,
  AlertRule,
  ChaosOptions,
  DeadlinesOptions,
  DashboardOptions,
  DependencyClient,
  DependencyOptions,
  ErrorBudgetOptions,
  ExperimentSpec,
  FaultMatch,
  HealthOptions,
  MetricsOptions,
  Objective,
  ObjectiveDefinition,
  ShutdownOptions,
  StatusPageOptions,
  IdempotencyOptions,
  LoadSheddingOptions,
  MemoryIdempotencyStoreOptions,
  RedisErrorBudgetFleetOptions,
  RedisIdempotencyStoreOptions,
  PressureOptions,
  ProblemDetailsOptions,
  ProblemTypeDefinition,
  ResilienceOptions,
  RouteSheddingConfig,
} from '../../plugins/index.js'

// Each list of accepted keys is exactly the keys of its interface: a key
// added to an interface but not to its list would be refused at runtime as
// unknown; a listed key missing from the interface would be accepted untyped.
describe('option key lists match their interfaces', () => {
  it('umbrella', () => { expectTypeOf<typeof CAPABILITIES[number]>().toEqualTypeOf<keyof ResilienceOptions>() })
  it('problem details', () => {
    expectTypeOf<typeof PROBLEM_DETAILS_KEYS[number]>().toEqualTypeOf<keyof ProblemDetailsOptions>()
    expectTypeOf<typeof PROBLEM_TYPE_KEYS[number]>().toEqualTypeOf<keyof ProblemTypeDefinition>()
  })
  it('deadlines', () => { expectTypeOf<typeof DEADLINES_KEYS[number]>().toEqualTypeOf<keyof DeadlinesOptions>() })
  it('dependencies', () => {
    expectTypeOf<typeof DEPENDENCY_KEYS[number]>().toEqualTypeOf<keyof DependencyOptions>()
    expectTypeOf<typeof CALL_OPTION_KEYS[number]>().toEqualTypeOf<keyof NonNullable<Parameters<DependencyClient['call']>[1]>>()
    expectTypeOf<typeof FETCH_OPTION_KEYS[number]>().toEqualTypeOf<keyof NonNullable<Parameters<DependencyClient['fetch']>[2]>>()
  })
  it('load shedding', () => {
    expectTypeOf<typeof LOAD_SHEDDING_KEYS[number]>().toEqualTypeOf<keyof LoadSheddingOptions>()
    expectTypeOf<typeof LIMIT_KEYS[number]>().toEqualTypeOf<keyof AdaptiveLimitOptions>()
    expectTypeOf<typeof PRESSURE_KEYS[number]>().toEqualTypeOf<keyof PressureOptions>()
    expectTypeOf<typeof ROUTE_SHEDDING_KEYS[number]>().toEqualTypeOf<keyof RouteSheddingConfig>()
  })
  it('chaos', () => {
    expectTypeOf<typeof CHAOS_KEYS[number]>().toEqualTypeOf<keyof ChaosOptions>()
    expectTypeOf<typeof EXPERIMENT_KEYS[number]>().toEqualTypeOf<keyof ExperimentSpec>()
    expectTypeOf<typeof MATCH_KEYS[number]>().toEqualTypeOf<keyof FaultMatch>()
    expectTypeOf<typeof HEADER_MATCH_KEYS[number]>().toEqualTypeOf<keyof NonNullable<FaultMatch['header']>>()
  })
  it('idempotency', () => { expectTypeOf<typeof IDEMPOTENCY_KEYS[number]>().toEqualTypeOf<keyof IdempotencyOptions>() })
  it('health', () => {
    expectTypeOf<typeof HEALTH_KEYS[number]>().toEqualTypeOf<keyof HealthOptions>()
    expectTypeOf<typeof SHUTDOWN_KEYS[number]>().toEqualTypeOf<keyof ShutdownOptions>()
  })
  it('metrics', () => {
    expectTypeOf<typeof METRICS_KEYS[number]>().toEqualTypeOf<keyof MetricsOptions>()
    expectTypeOf<typeof DASHBOARD_KEYS[number]>().toEqualTypeOf<keyof DashboardOptions>()
  })
  it('status page', () => { expectTypeOf<typeof STATUS_PAGE_KEYS[number]>().toEqualTypeOf<keyof StatusPageOptions>() })
  it('error budget', () => {
    expectTypeOf<typeof ERROR_BUDGET_KEYS[number]>().toEqualTypeOf<keyof ErrorBudgetOptions>()
    expectTypeOf<typeof OBJECTIVE_KEYS[number]>().toEqualTypeOf<keyof ObjectiveDefinition>()
    expectTypeOf<typeof LATENCY_KEYS[number]>().toEqualTypeOf<keyof NonNullable<ObjectiveDefinition['latency']>>()
    expectTypeOf<typeof ALERT_RULE_KEYS[number]>().toEqualTypeOf<keyof AlertRule>()
  })
  it('error budget exports', () => {
    expectTypeOf<typeof INDICATOR_KEYS[number]>().toEqualTypeOf<keyof Objective>()
    expectTypeOf<typeof RULES_SETTINGS_KEYS[number]>().toEqualTypeOf<keyof RulesSettings>()
    expectTypeOf<typeof SPEC_SETTINGS_KEYS[number]>().toEqualTypeOf<keyof SpecSettings>()
  })
  it('constructors', () => {
    expectTypeOf<typeof MEMORY_STORE_KEYS[number]>().toEqualTypeOf<keyof MemoryIdempotencyStoreOptions>()
    expectTypeOf<typeof REDIS_STORE_KEYS[number]>().toEqualTypeOf<keyof RedisIdempotencyStoreOptions>()
    expectTypeOf<typeof FLEET_KEYS[number]>().toEqualTypeOf<keyof RedisErrorBudgetFleetOptions>()
  })
})
