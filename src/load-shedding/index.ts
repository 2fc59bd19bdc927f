export { PRIORITIES, PRIORITY_RANK, isPriority } from './priority.js'
export type { Priority } from './priority.js'
export { SHED_REASONS } from './shed-reason.js'
export type { ShedReason } from './shed-reason.js'
export { FixedLimit, GradientLimit } from './limit.js'
export type { ConcurrencyLimit, GradientLimitSettings } from './limit.js'
export { AdmissionController } from './admission.js'
export type { AdmissionSettings, EnqueueOutcome } from './admission.js'
export type { Waiter } from './waiting-line.js'
export { WaitingLine } from './waiting-line.js'
export { DrainRate } from './drain-rate.js'
export { retryAfterSeconds } from './retry-after.js'
export { RefusalSpread } from './refusal-spread.js'
export type { RetryAfterSettings } from './retry-after.js'
export { LoopLagDetector } from './loop-lag.js'
export type { LoopLagSettings } from './loop-lag.js'
export { PressureLadder } from './pressure-ladder.js'
export { SheddingCounters } from './stats.js'
export type { LoadSheddingStats, BulkheadStats } from './stats.js'
export { ShedSummary } from './shed-summary.js'
export type { ShedSummaryLine } from './shed-summary.js'
export { resolveLoadSheddingOptions, resolveRouteShedding } from './options.js'
export type {
  LoadSheddingOptions,
  AdaptiveLimitOptions,
  PressureOptions,
  RouteSheddingConfig,
  ResolvedLoadSheddingOptions,
  ResolvedRouteShedding,
  ResolvedPressureOptions,
} from './options.js'
export { LOAD_SHEDDING_PROBLEM_TYPES } from './problem-types.js'
export { shedDetail } from './detail.js'
export type { ShedFacts } from './detail.js'
export { pressureSignal } from './pressure-signal.js'
export type { PressureSample, PressureThresholds } from './pressure-signal.js'
