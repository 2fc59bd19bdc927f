import type { SliStatus, BudgetState } from '../error-budget/status.js'
import type { LoadSheddingStats } from '../load-shedding/stats.js'
import type { ChaosStats } from '../chaos/controller.js'
import type { DependencyStats } from '../dependencies/dependency.js'

/** What the page's sources answer; a capability that is not registered answers undefined. */
export interface StatusReadings {
  /** Epoch milliseconds of the reading. */
  now: number
  slos: SloReading | undefined
  shedding: LoadSheddingStats | undefined
  /** Per route: deadline outcomes (from the metrics hub). */
  deadlines: Array<{ route: string, outcome: string, value: number }> | undefined
  /** Per route: idempotency outcomes, and failed store calls (from the metrics hub). */
  idempotency: { outcomes: Array<{ route: string, outcome: string, value: number }>, storeErrors: number } | undefined
  chaos: ChaosStats | undefined
  dependencies: Record<string, DependencyStats> | undefined
  /** The lifecycle phase, with the health capability. */
  phase: string | undefined
}

export interface SloReading {
  /** `fleet`: summed over every instance sharing the fleet store. */
  scope: 'fleet' | 'local'
  /** Why the view is local: no fleet store, or it could not be read. */
  reason?: 'no-fleet-store' | 'fleet-store-unavailable'
  slos: SliStatus[]
}

export interface SloView {
  /** `name/sli`: stable, used to name chart series. */
  key: string
  name: string
  sli: string
  state: BudgetState
  target: number
  thresholdMs: number | null
  /** Fraction of the budget left; negative once overspent. */
  budgetRemaining: number
  actual: number | null
  events: number
  /** Per window of the alert rules and the SLO window, shortest first. */
  burnRates: Array<{ window: string, rate: number }>
  firing: string[]
}

export interface DeadlineView { expired: number, refused: number, clientClosed: number }

export interface IdempotencyView { executed: number, replayed: number, conflicts: number, mismatches: number, storeErrors: number }

export interface ExperimentView {
  name: string
  running: boolean
  /** Milliseconds until it starts (0 once started) and until it ends. */
  startsInMs: number
  endsInMs: number
  injected: number
}

export interface ChaosView {
  enabled: boolean
  stoppedBecause: string | null
  active: number
  injected: number
  injectedByType: Record<string, number>
  experiments: ExperimentView[]
}

export interface BreakerView {
  name: string
  state: string
  failureRate: number
  windowCalls: number
  rejections: number
  inFlight: number
  openRemainingMs: number
}

export interface SheddingView {
  limit: number | null
  inFlight: number
  queued: number
  admitted: number
  pressureLevel: number
  shed: number
  byReason: Record<string, number>
  byPriority: Record<string, number>
}

/**
 * What the page shows at one moment: plain JSON, only what an operator
 * needs. Names of SLOs, routes (templates) and dependencies appear; keys,
 * tenants, URLs and error messages never do. A section is null when its
 * capability is not registered (or, for deadlines and idempotency, when
 * metrics are off: their counts live there).
 */
export interface StatusSnapshot {
  at: number
  phase: string | null
  slos: { scope: 'fleet' | 'local', reason: string | null, items: SloView[] } | null
  shedding: SheddingView | null
  deadlines: (DeadlineView & { routes: Array<DeadlineView & { route: string }> }) | null
  idempotency: IdempotencyView | null
  chaos: ChaosView | null
  dependencies: BreakerView[] | null
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Milliseconds of a window label ("5m", "1h", "30d"); labels it cannot read sort last. */
export function windowMs (label: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(label)
  return match === null ? Number.POSITIVE_INFINITY : Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN)
}

function sloView (status: SliStatus): SloView {
  return {
    key: `${status.name}/${status.sli}`,
    name: status.name,
    sli: status.sli,
    state: status.state,
    target: status.target,
    thresholdMs: status.thresholdMs ?? null,
    budgetRemaining: status.budget.remaining,
    actual: status.actual,
    events: status.events.total,
    // Shortest window first: the chart follows the first, which reacts fastest.
    burnRates: Object.entries(status.burnRates).map(([window, rate]) => ({ window, rate })).sort((a, b) => windowMs(a.window) - windowMs(b.window)),
    firing: status.firing,
  }
}

const DEADLINE_FIELDS: Record<string, keyof DeadlineView> = { expired: 'expired', refused: 'refused', 'client-closed': 'clientClosed' }

function deadlineView (readings: NonNullable<StatusReadings['deadlines']>): NonNullable<StatusSnapshot['deadlines']> {
  const total: DeadlineView = { expired: 0, refused: 0, clientClosed: 0 }
  const routes = new Map<string, DeadlineView & { route: string }>()
  for (const { route, outcome, value } of readings) {
    const field = DEADLINE_FIELDS[outcome]
    if (field === undefined) continue
    let entry = routes.get(route)
    if (entry === undefined) {
      entry = { route, expired: 0, refused: 0, clientClosed: 0 }
      routes.set(route, entry)
    }
    entry[field] += value
    total[field] += value
  }
  return { ...total, routes: [...routes.values()] }
}

const IDEMPOTENCY_FIELDS: Record<string, keyof IdempotencyView> = { executed: 'executed', replayed: 'replayed', conflict: 'conflicts', mismatch: 'mismatches' }

function idempotencyView (readings: NonNullable<StatusReadings['idempotency']>): IdempotencyView {
  const view: IdempotencyView = { executed: 0, replayed: 0, conflicts: 0, mismatches: 0, storeErrors: readings.storeErrors }
  for (const { outcome, value } of readings.outcomes) {
    const field = IDEMPOTENCY_FIELDS[outcome]
    if (field !== undefined) view[field] += value
  }
  return view
}

function chaosView (stats: ChaosStats, now: number): ChaosView {
  return {
    enabled: stats.enabled,
    stoppedBecause: stats.stoppedBecause ?? null,
    active: stats.active,
    injected: stats.injected.total,
    injectedByType: { ...stats.injected.byType },
    // Seeds are left out: with one, a caller could predict which of its requests get faults.
    experiments: stats.experiments.map((experiment) => ({
      name: experiment.name,
      running: experiment.running,
      startsInMs: Math.max(0, experiment.startsAt - now),
      endsInMs: Math.max(0, experiment.endsAt - now),
      injected: experiment.injected,
    })),
  }
}

/** Builds the page's view of the readings. */
export function assembleSnapshot (readings: StatusReadings): StatusSnapshot {
  const { shedding, slos, chaos, dependencies } = readings
  return {
    at: readings.now,
    phase: readings.phase ?? null,
    slos: slos === undefined ? null : { scope: slos.scope, reason: slos.reason ?? null, items: slos.slos.map(sloView) },
    shedding: shedding === undefined
      ? null
      : {
          limit: shedding.limit,
          inFlight: shedding.inFlight,
          queued: shedding.queued,
          admitted: shedding.admitted,
          pressureLevel: shedding.pressureLevel,
          shed: shedding.shed.total,
          byReason: { ...shedding.shed.byReason },
          byPriority: { ...shedding.shed.byPriority },
        },
    deadlines: readings.deadlines === undefined ? null : deadlineView(readings.deadlines),
    idempotency: readings.idempotency === undefined ? null : idempotencyView(readings.idempotency),
    chaos: chaos === undefined ? null : chaosView(chaos, readings.now),
    dependencies: dependencies === undefined
      ? null
      : Object.entries(dependencies).map(([name, stats]) => ({
        name,
        state: stats.state,
        failureRate: stats.failureRate,
        windowCalls: stats.windowCalls,
        rejections: stats.rejections,
        inFlight: stats.inFlight,
        openRemainingMs: stats.openRemainingMs,
      })),
  }
}
