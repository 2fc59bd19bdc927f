import { describe, expect, it } from 'vitest'
import { SampleHistory, sampleOf } from '../../../src/status-page/index.js'
import type { StatusSnapshot } from '../../../src/status-page/index.js'

function snapshot (at: number, concurrency: number, budgetRemaining = 0.5): StatusSnapshot {
  return {
    at,
    phase: null,
    slos: { scope: 'local', reason: 'no-fleet-store', items: [{ key: 'orders/availability', name: 'orders', sli: 'availability', state: 'ok', target: 0.99, thresholdMs: null, budgetRemaining, actual: 1, events: 10, burnRates: [{ window: '5m', rate: 2 }, { window: '1h', rate: 1 }], firing: [] }] },
    shedding: { limit: 10, inFlight: 3, queued: 1, admitted: 100, pressureLevel: 0, shed: concurrency, byReason: { concurrency }, byPriority: { low: concurrency } },
    deadlines: null,
    idempotency: null,
    chaos: null,
    dependencies: null,
  }
}

describe('status page history', () => {
  it('keeps the last `capacity` samples, oldest first, across the ring\'s wrap', () => {
    const history = new SampleHistory(3)
    for (let index = 1; index <= 5; index++) history.push({ t: index * 1000, values: { a: index } })
    expect(history.size).toBe(3)
    expect(history.columns()).toEqual({ t: [3000, 4000, 5000], series: { a: [3, 4, 5] } })
  })

  it('a series missing from a sample, or appearing late, has null there', () => {
    const history = new SampleHistory(4)
    history.push({ t: 1, values: { a: 1 } })
    history.push({ t: 2, values: { a: null, b: 2 } })
    history.push({ t: 3, values: { b: 3 } })
    expect(history.columns()).toEqual({ t: [1, 2, 3], series: { a: [1, null, null], b: [null, 2, 3] } })
  })

  it('samples sheds per second from the growth of the counts, and the shortest window\'s burn rate', () => {
    const first = sampleOf(snapshot(10_000, 4), undefined)
    expect(first.values['shed:reason:concurrency']).toBe(0)
    const second = sampleOf(snapshot(12_000, 10), snapshot(10_000, 4))
    expect(second.values['shed:reason:concurrency']).toBe(3)
    expect(second.values['shed:priority:low']).toBe(3)
    expect(second.values['shedding:inFlight']).toBe(3)
    expect(second.values['slo:orders/availability:budget']).toBe(50)
    expect(second.values['slo:orders/availability:burn']).toBe(2)
  })

  it('charts an overspent budget at −100 %', () => {
    expect(sampleOf(snapshot(1, 0, -93), undefined).values['slo:orders/availability:budget']).toBe(-100)
  })
})
