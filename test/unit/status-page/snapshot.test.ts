import { describe, expect, it } from 'vitest'
import { assembleSnapshot, renderPage, windowMs } from '../../../src/status-page/index.js'
import type { StatusReadings } from '../../../src/status-page/index.js'

const EMPTY: StatusReadings = { now: 1_000_000, slos: undefined, shedding: undefined, deadlines: undefined, idempotency: undefined, chaos: undefined, dependencies: undefined, phase: undefined }

describe('status page snapshot', () => {
  it('a capability that is not registered is null', () => {
    expect(assembleSnapshot(EMPTY)).toEqual({ at: 1_000_000, phase: null, slos: null, shedding: null, deadlines: null, idempotency: null, chaos: null, dependencies: null })
  })

  it('sorts burn rates by window, shortest first', () => {
    expect(['30d', '1h', '5m', '3d', '30m', '6h'].sort((a, b) => windowMs(a) - windowMs(b))).toEqual(['5m', '30m', '1h', '6h', '3d', '30d'])
    const snapshot = assembleSnapshot({
      ...EMPTY,
      slos: { scope: 'fleet', slos: [{ name: 'orders', sli: 'availability', state: 'warning', target: 0.999, actual: 0.99, windowDays: 30, events: { total: 100, good: 99, bad: 1 }, budget: { remaining: -9, remainingEvents: -1 }, burnRates: { '1h': 3, '5m': 4, '30d': 10 }, firing: ['ticket: 1× over 3d and 6h'] }] },
    })
    expect(snapshot.slos).toMatchObject({ scope: 'fleet', reason: null, items: [{ key: 'orders/availability', state: 'warning', budgetRemaining: -9, burnRates: [{ window: '5m', rate: 4 }, { window: '1h', rate: 3 }, { window: '30d', rate: 10 }] }] })
  })

  it('sums deadline and idempotency outcomes over routes, and leaves experiment seeds out', () => {
    const snapshot = assembleSnapshot({
      ...EMPTY,
      deadlines: [
        { route: 'GET /a', outcome: 'expired', value: 2 },
        { route: 'GET /b', outcome: 'expired', value: 1 },
        { route: 'GET /b', outcome: 'client-closed', value: 4 },
        { route: 'GET /b', outcome: 'refused', value: 5 },
      ],
      idempotency: { outcomes: [{ route: 'POST /o', outcome: 'executed', value: 3 }, { route: 'POST /p', outcome: 'conflict', value: 1 }, { route: 'POST /p', outcome: 'mismatch', value: 2 }, { route: 'POST /p', outcome: 'replayed', value: 6 }], storeErrors: 7 },
      chaos: { enabled: true, stoppedBecause: undefined, active: 1, injected: { total: 2, byType: { latency: 2, error: 0, exception: 0, abort: 0, hang: 0 }, bySource: {} }, experiments: [{ name: 'x', running: true, startsAt: 900_000, endsAt: 1_060_000, seed: 1234, injected: 2 }] },
    })
    expect(snapshot.deadlines).toMatchObject({ expired: 3, refused: 5, clientClosed: 4, routes: [{ route: 'GET /a', expired: 2 }, { route: 'GET /b', expired: 1, refused: 5, clientClosed: 4 }] })
    expect(snapshot.idempotency).toEqual({ executed: 3, replayed: 6, conflicts: 1, mismatches: 2, storeErrors: 7 })
    expect(snapshot.chaos?.experiments).toEqual([{ name: 'x', running: true, startsInMs: 0, endsInMs: 60_000, injected: 2 }])
    expect(JSON.stringify(snapshot)).not.toContain('1234')
  })

  it('escapes what it puts in the page', () => {
    const html = renderPage({ path: '/ops', csrfToken: '"><script>alert(1)</script>', assetVersion: 'v1' })
    expect(html).not.toContain('<script>alert(1)')
    expect(html).toContain('&quot;&gt;&lt;script&gt;')
  })
})
