import type { Fault, RequestFacts } from './fault.js'
import { matches } from './fault.js'
import { Experiment } from './experiment.js'
import type { FaultType } from './fault.js'

/** A fault chosen for one request. */
export interface Injection {
  fault: Fault
  /** The experiment's name, `route` for a route's own faults, or `header` for a requested one. */
  source: string
  /** Call when the fault is over (a delay elapsed, a hang ended); safe to call twice. */
  end: () => void
}

/** A fault declared on a route, or requested by an authorised header. */
export interface LocalFault { fault: Fault, source: 'route' | 'header' }

/** What chaos is doing now: on or off, faults in progress and injected, experiments. */
export interface ChaosStats {
  enabled: boolean
  /** Why chaos was last stopped, or last refused to start, if it was. */
  stoppedBecause: string | undefined
  /** Faults in progress (delays and hangs). */
  active: number
  injected: { total: number, byType: Record<FaultType, number>, bySource: Record<string, number> }
  experiments: Array<{ name: string, running: boolean, startsAt: number, endsAt: number, seed: number, injected: number }>
}

/**
 * The switchboard of chaos: on or off, the experiments, the cap on faults
 * in progress, and the kill switch that ends the faults in flight.
 */
export class ChaosController {
  readonly #maxActiveFaults: number
  readonly #routeRandom: () => number
  readonly #requestRandom: () => number
  readonly #experiments = new Map<string, Experiment>()
  readonly #inFlight = new Set<() => void>()
  #enabled = false
  #stoppedBecause: string | undefined
  #active = 0
  #total = 0
  readonly #byType: Record<FaultType, number> = { latency: 0, error: 0, exception: 0, abort: 0, hang: 0 }
  readonly #bySource: Record<string, number> = {}

  /** Route faults and requested faults draw from separate sources, so that neither shifts the other's decisions. */
  constructor (maxActiveFaults: number, routeRandom: () => number, requestRandom: () => number = routeRandom) {
    this.#maxActiveFaults = maxActiveFaults
    this.#routeRandom = routeRandom
    this.#requestRandom = requestRandom
  }

  get enabled (): boolean {
    return this.#enabled
  }

  enable (): void {
    this.#enabled = true
    this.#stoppedBecause = undefined
  }

  /** Stops new faults; the ones in progress run their course. */
  disable (reason: string): void {
    this.#enabled = false
    this.#stoppedBecause = reason
  }

  /** Stops new faults and ends every delay and hang in progress at once. */
  kill (reason: string): void {
    this.disable(reason)
    for (const end of [...this.#inFlight]) end()
  }

  addExperiment (experiment: Experiment): void {
    this.#experiments.set(experiment.name, experiment)
  }

  removeExperiment (name: string): boolean {
    return this.#experiments.delete(name)
  }

  /**
   * Chooses at most one fault for a request: a requested one first, then
   * the route's own, then the running experiments'. Every matching fault is
   * drawn at its rate, hit or not, so that each source's decisions depend
   * only on its seed and the requests; none is injected while disabled or
   * at the cap of faults in progress.
   */
  choose (local: readonly LocalFault[], facts: RequestFacts, now: number): Injection | undefined {
    if (!this.#enabled) return undefined
    let chosen: { fault: Fault, source: string, experiment: Experiment | undefined } | undefined
    for (const { fault, source } of local) {
      if (!matches(fault, facts)) continue
      const drawn = (source === 'header' ? this.#requestRandom : this.#routeRandom)()
      if (chosen === undefined && drawn < fault.rate) chosen = { fault, source, experiment: undefined }
    }
    for (const experiment of this.#experiments.values()) {
      if (!experiment.isRunning(now)) continue
      const fault = experiment.draw(facts)
      if (chosen === undefined && fault !== undefined) chosen = { fault, source: experiment.name, experiment }
    }
    if (chosen === undefined || this.#active >= this.#maxActiveFaults) return undefined
    return this.#inject(chosen.fault, chosen.source, chosen.experiment)
  }

  /** Registers how to end a fault in progress early, for the kill switch; returns the unregister function. */
  track (end: () => void): () => void {
    this.#inFlight.add(end)
    return () => { this.#inFlight.delete(end) }
  }

  stats (now: number): ChaosStats {
    return {
      enabled: this.#enabled,
      stoppedBecause: this.#stoppedBecause,
      active: this.#active,
      injected: { total: this.#total, byType: { ...this.#byType }, bySource: { ...this.#bySource } },
      experiments: [...this.#experiments.values()].map((experiment) => ({
        name: experiment.name,
        running: experiment.isRunning(now),
        startsAt: experiment.startsAt,
        endsAt: experiment.endsAt,
        seed: experiment.seed,
        injected: experiment.injected,
      })),
    }
  }

  #inject (fault: Fault, source: string, experiment: Experiment | undefined): Injection {
    this.#active++
    this.#total++
    this.#byType[fault.type]++
    this.#bySource[source] = (this.#bySource[source] ?? 0) + 1
    if (experiment !== undefined) {
      experiment.active++
      experiment.injected++
    }
    let ended = false
    return {
      fault,
      source,
      end: () => {
        if (ended) return
        ended = true
        this.#active--
        if (experiment !== undefined) experiment.active--
      },
    }
  }
}
