// fastify-resilience/error-budget: per-route SLOs and error budgets.
// Loads prom-client; ioredis only as types.
export { errorBudget, RedisErrorBudgetFleet } from '../error-budget.js'
export type { ErrorBudget, ErrorBudgetOptions, FleetStatus, ObjectiveDefinition, SliStatus, StateChange, AlertRule } from '../error-budget.js'
export type { RedisErrorBudgetFleetOptions, BudgetState, Objective, Sli, OutcomeReason } from '../../src/error-budget/index.js'
export { DEFAULT_ALERT_RULES, prometheusRules, slothSpec, openSloSpecs, burnRate } from '../../src/error-budget/index.js'
export { monotonicClock, wallClock } from '../../src/clock.js'
export type { Clock } from '../../src/clock.js'
export type { RedisClient } from '../../src/redis-client.js'
