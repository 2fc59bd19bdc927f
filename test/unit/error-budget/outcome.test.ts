import { describe, expect, it, vi } from 'vitest'
import { ErrorBudgetTracker, classifyOutcome, resolveObjective } from '../../../src/error-budget/index.js'
import type { OutcomeFacts } from '../../../src/error-budget/index.js'

const FACTS: OutcomeFacts = { statusCode: 200, deadlineExceeded: false, callerBudgetSpent: false, brokenOff: false, clientClosed: false, shed: false, chaos: false }

describe('classifyOutcome', () => {
  it.each([
    [{}, 'good', true, false],
    [{ statusCode: 201 }, 'good', true, false],
    [{ statusCode: 500 }, 'server-error', true, true],
    [{ statusCode: 502 }, 'server-error', true, true],
    [{ statusCode: 504, deadlineExceeded: true }, 'deadline', true, true],
    [{ statusCode: 504, callerBudgetSpent: true }, 'caller-budget-spent', false, false],
    [{ statusCode: 504, callerBudgetSpent: true, deadlineExceeded: true }, 'caller-budget-spent', false, false],
    [{ statusCode: 503, shed: true }, 'shed', true, true],
    [{ statusCode: 500, chaos: true }, 'chaos', true, true],
    [{ statusCode: 400 }, 'client-error', false, false],
    [{ statusCode: 404 }, 'client-error', false, false],
    [{ statusCode: 200, clientClosed: true }, 'client-closed', false, false],
    [{ statusCode: 200, brokenOff: true, clientClosed: true }, 'server-error', true, true],
    [{ statusCode: 200, brokenOff: true, deadlineExceeded: true }, 'deadline', true, true],
  ] as const)('%o is %s', (facts, reason, counted, bad) => {
    expect(classifyOutcome({ ...FACTS, ...facts })).toEqual({ reason, counted, bad })
  })
})

describe('ErrorBudgetTracker', () => {
  const DAY = 86_400_000
  const NOW = 100 * DAY

  it('tells listeners once per transition, not on every evaluation', () => {
    const tracker = new ErrorBudgetTracker({ rules: [{ severity: 'page', burnRate: 14.4, longWindowMs: 3_600_000, shortWindowMs: 300_000 }], minEvents: 10 }, () => {})
    const [orders] = tracker.declare(resolveObjective({ name: 'orders', availability: 0.99 }, 'x'), 'x')
    const changes: string[] = []
    tracker.onStateChange((change) => changes.push(`${change.name}:${change.sli} ${change.from} → ${change.to}`))
    for (let i = 0; i < 100; i++) orders?.counter.add(NOW - 1000, 1, 1)
    tracker.evaluate(NOW)
    tracker.evaluate(NOW + 1000)
    expect(changes).toEqual(['orders:availability ok → exhausted'])
  })

  /** A tracker of `count` SLOs, each with every event bad: each changes state at its next evaluation. */
  function burningTracker (count: number): { tracker: ErrorBudgetTracker, changes: string[] } {
    const tracker = new ErrorBudgetTracker({ rules: [], minEvents: 1 }, () => {})
    for (let i = 0; i < count; i++) {
      for (const tracked of tracker.declare(resolveObjective({ name: `slo-${i}`, availability: 0.99 }, 'x'), 'x')) tracked.counter.add(NOW - 1000, 10, 10)
    }
    const changes: string[] = []
    tracker.onStateChange((change) => changes.push(change.name))
    return { tracker, changes }
  }

  it('evaluates in turns of the event loop, a slice of indicators per turn, the same as all at once', async () => {
    const { tracker, changes } = burningTracker(250)
    const done = tracker.evaluateInTurns(NOW, 100)
    expect(changes).toHaveLength(100)
    await done
    expect(changes).toHaveLength(250)
    expect(new Set(changes).size).toBe(250)
  })

  it('stops evaluating between turns once its signal is aborted', async () => {
    const { tracker, changes } = burningTracker(250)
    const closing = new AbortController()
    const done = tracker.evaluateInTurns(NOW, 100, closing.signal)
    closing.abort()
    await done
    expect(changes).toHaveLength(100)
  })

  it('shares an SLO between routes that declare the same objectives, and refuses a conflicting declaration', () => {
    const tracker = new ErrorBudgetTracker({ rules: [], minEvents: 1 }, () => {})
    const first = tracker.declare(resolveObjective({ name: 'orders', availability: 0.99 }, 'x'), 'x')
    expect(tracker.declare(resolveObjective({ name: 'orders', availability: 0.99 }, 'x'), 'x')).toBe(first)
    expect(() => tracker.declare(resolveObjective({ name: 'orders', availability: 0.999 }, 'x'), 'route POST /b: config.slo'))
      .toThrow("option 'route POST /b: config.slo' expects the objectives SLO 'orders' was declared with (availability 0.99 over 30 d), instead got availability 0.999 over 30 d")
  })

  it('reports a listener that throws and still tells the others', () => {
    const onError = vi.fn()
    const tracker = new ErrorBudgetTracker({ rules: [], minEvents: 1 }, onError)
    const [orders] = tracker.declare(resolveObjective({ name: 'orders', availability: 0.99 }, 'x'), 'x')
    const told = vi.fn()
    tracker.onStateChange(() => { throw new Error('listener broke') })
    tracker.onStateChange(told)
    orders?.counter.add(NOW, 5, 5)
    tracker.evaluate(NOW)
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'listener broke' }))
    expect(told).toHaveBeenCalledTimes(1)
  })
})
