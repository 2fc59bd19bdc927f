import { MAX_TIMER_MS } from '../deadline/budget.js'
import type { MetricsHub } from './hub.js'

/** How a request's deadline ended badly; counted per route. */
export const DEADLINE_OUTCOMES = ['expired', 'refused', 'client-closed'] as const

export type DeadlineOutcomeLabel = typeof DEADLINE_OUTCOMES[number]

/** A route's deadline counts: plain numbers, incremented when the outcome happens. */
export class DeadlineTally {
  readonly route: string
  expired = 0
  refused = 0
  clientClosed = 0
  /** Exposed from registration, at zero; otherwise from its first count on. */
  fromStart: boolean

  constructor (route: string, fromStart: boolean) {
    this.route = route
    this.fromStart = fromStart
  }

  get exposed (): boolean {
    return this.fromStart || this.expired + this.refused + this.clientClosed > 0
  }
}

const BUDGET_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** The routes' tallies and the histogram of caller budgets. */
export class DeadlineMetrics {
  readonly #tallies: DeadlineTally[] = []
  readonly #budget: { observe: (seconds: number) => void }

  constructor (hub: MetricsHub) {
    hub.enable('deadlines')
    const tallies = this.#tallies
    hub.counter({
      name: 'deadline_requests_total',
      help: 'Requests whose deadline ended badly, by route and outcome: expired (answered 504, or a streamed answer cut), refused (budget spent before any work), client-closed (the client left first).',
      labelNames: ['route', 'outcome'],
      read (set) {
        for (const tally of tallies) {
          if (!tally.exposed) continue
          set({ route: tally.route, outcome: 'expired' }, tally.expired)
          set({ route: tally.route, outcome: 'refused' }, tally.refused)
          set({ route: tally.route, outcome: 'client-closed' }, tally.clientClosed)
        }
      },
    })
    this.#budget = hub.histogram({
      name: 'deadline_caller_budget_seconds',
      help: 'Budget left at arrival, as sent by callers that send one (the deadline header), before the safety margin.',
      labelNames: [],
      buckets: BUDGET_BUCKETS,
    })
  }

  /**
   * The tally of a route; routes with the same label share one. A route
   * not `fromStart` (the HEAD route Fastify adds for each GET) shows in
   * scrapes only once it has counted something.
   */
  forRoute (route: string, fromStart = true): DeadlineTally {
    let tally = this.#tallies.find((existing) => existing.route === route)
    if (tally === undefined) {
      tally = new DeadlineTally(route, fromStart)
      this.#tallies.push(tally)
    }
    if (fromStart) tally.fromStart = true
    return tally
  }

  /**
   * A caller sent its remaining budget; observed only then, the header
   * being parsed anyway. Capped at the longest timer, as the deadline is:
   * a header of 400 nines reads as Infinity, which a histogram refuses.
   */
  observeCallerBudget (ms: number): void {
    this.#budget.observe((ms >= 0 ? Math.min(ms, MAX_TIMER_MS) : 0) / 1000)
  }
}
