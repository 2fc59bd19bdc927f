import type { StatusSnapshot } from './snapshot.js'

/** One point of the charts: its time (epoch ms) and a value per series; null where a series has none. */
export interface Sample {
  t: number
  values: Record<string, number | null>
}

/** The charts' history as columns: times, and per series its values at those times. */
export interface HistoryColumns {
  t: number[]
  series: Record<string, Array<number | null>>
}

/**
 * The last `capacity` samples in fixed rings: one Float64Array per series
 * (NaN where a series has no value), allocated when the series first
 * appears, so that memory stays constant however long the server runs.
 */
export class SampleHistory {
  readonly capacity: number
  readonly #times: Float64Array
  readonly #series = new Map<string, Float64Array>()
  #next = 0
  #size = 0

  constructor (capacity: number) {
    this.capacity = capacity
    this.#times = new Float64Array(capacity)
  }

  get size (): number {
    return this.#size
  }

  push (sample: Sample): void {
    const slot = this.#next
    this.#times[slot] = sample.t
    for (const [name, value] of Object.entries(sample.values)) {
      let ring = this.#series.get(name)
      if (ring === undefined) {
        ring = new Float64Array(this.capacity).fill(Number.NaN)
        this.#series.set(name, ring)
      }
      ring[slot] = value ?? Number.NaN
    }
    // A series missing from this sample has no value at this time.
    for (const [name, ring] of this.#series) if (!(name in sample.values)) ring[slot] = Number.NaN
    this.#next = (slot + 1) % this.capacity
    this.#size = Math.min(this.#size + 1, this.capacity)
  }

  /** Oldest first. */
  columns (): HistoryColumns {
    const start = (this.#next - this.#size + this.capacity) % this.capacity
    const order = Array.from({ length: this.#size }, (_, index) => (start + index) % this.capacity)
    const series: HistoryColumns['series'] = {}
    for (const [name, ring] of this.#series) series[name] = order.map((slot) => Number.isNaN(ring[slot]) ? null : ring[slot] ?? null)
    return { t: order.map((slot) => this.#times[slot] ?? 0), series }
  }
}

/**
 * The chart values of a snapshot: per SLO its budget left (percent, at
 * least −100) and
 * its burn rate over the shortest alert window; the shedder's limit, in
 * flight and queue; and sheds per second by reason and by priority, from
 * the counts' growth since `previous`.
 */
export function sampleOf (snapshot: StatusSnapshot, previous: StatusSnapshot | undefined): Sample {
  const values: Record<string, number | null> = {}
  for (const slo of snapshot.slos?.items ?? []) {
    // Overspent budgets chart at −100 %: the figure beside the chart says by how much.
    values[`slo:${slo.key}:budget`] = Math.max(-100, slo.budgetRemaining * 100)
    values[`slo:${slo.key}:burn`] = slo.burnRates[0]?.rate ?? null
  }
  const shedding = snapshot.shedding
  if (shedding !== null) {
    values['shedding:limit'] = shedding.limit
    values['shedding:inFlight'] = shedding.inFlight
    values['shedding:queued'] = shedding.queued
    const before = previous?.shedding ?? null
    const seconds = previous === undefined ? 0 : (snapshot.at - previous.at) / 1000
    const rate = (now: number, then: number | undefined): number => seconds > 0 && then !== undefined ? Math.max(0, now - then) / seconds : 0
    for (const [reason, count] of Object.entries(shedding.byReason)) values[`shed:reason:${reason}`] = rate(count, before?.byReason[reason])
    for (const [priority, count] of Object.entries(shedding.byPriority)) values[`shed:priority:${priority}`] = rate(count, before?.byPriority[priority])
  }
  return { t: snapshot.at, values }
}
