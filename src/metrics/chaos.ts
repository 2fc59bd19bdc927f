import { FAULT_TYPES } from '../chaos/fault.js'
import type { FaultType } from '../chaos/fault.js'
import type { MetricsHub } from './hub.js'

/** What chaos lets the metrics read. */
export interface ChaosSource {
  enabled: () => boolean
  active: () => number
}

/**
 * Chaos injections by fault type and source (`route`, `header` or an
 * experiment's name: bounded by what the operator declared).
 */
export class ChaosMetrics {
  readonly #bySource = new Map<string, Record<FaultType, number>>()

  constructor (hub: MetricsHub, source: ChaosSource) {
    hub.enable('chaos')
    const bySource = this.#bySource
    for (const origin of ['route', 'header']) bySource.set(origin, zeroes())
    hub.counter({
      name: 'chaos_injections_total',
      help: 'Faults injected by chaos, by fault type and source (route, header or the experiment\'s name).',
      labelNames: ['type', 'source'],
      read (set) {
        for (const [origin, counts] of bySource) {
          for (const type of FAULT_TYPES) set({ type, source: origin }, counts[type])
        }
      },
    })
    hub.gauge({
      name: 'chaos_enabled',
      help: '1 while chaos injects faults, 0 when it is off or stopped.',
      labelNames: [],
      combine: 'max',
      read: (set) => set({}, source.enabled() ? 1 : 0),
    })
    hub.gauge({
      name: 'chaos_active_faults',
      help: 'Faults in progress (delays and hangs).',
      labelNames: [],
      read: (set) => set({}, source.active()),
    })
  }

  /** A fault was injected: an event, so a map lookup is fine here. */
  injected (type: FaultType, origin: string): void {
    let counts = this.#bySource.get(origin)
    if (counts === undefined) {
      counts = zeroes()
      this.#bySource.set(origin, counts)
    }
    counts[type]++
  }
}

function zeroes (): Record<FaultType, number> {
  return { latency: 0, error: 0, exception: 0, abort: 0, hang: 0 }
}
