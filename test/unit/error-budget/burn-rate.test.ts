import { describe, expect, it } from 'vitest'
import { DEFAULT_ALERT_RULES, SliCounter, burnRate, evaluateSli, maxBurnRate, resolveObjective, windowLabel } from '../../../src/error-budget/index.js'
import type { Objective } from '../../../src/error-budget/index.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const NOW = 100 * DAY
const SETTINGS = { rules: DEFAULT_ALERT_RULES, minEvents: 20 }

const [ORDERS] = resolveObjective({ name: 'orders', availability: 0.999 }, 'test') as [Objective]

/** Spreads `total` events, `bad` of them bad and evenly among them, over the `spanMs` before NOW. */
function spread (counter: SliCounter, spanMs: number, total: number, bad: number): void {
  for (let i = 0; i < total; i++) {
    const isBad = Math.floor((i + 1) * bad / total) > Math.floor(i * bad / total)
    counter.add(NOW - spanMs + (i + 0.5) * spanMs / total, 1, isBad ? 1 : 0)
  }
}

describe('burn rates', () => {
  it('is the error rate over the allowed error rate', () => {
    expect(burnRate({ total: 1000, bad: 10 }, 0.999)).toBeCloseTo(10)
    expect(burnRate({ total: 1000, bad: 1 }, 0.999)).toBeCloseTo(1)
    expect(burnRate({ total: 0, bad: 0 }, 0.999)).toBe(0)
  })

  it('matches the SRE workbook: 14.4× for an hour spends 2 % of a 30-day budget, 6× for 6 hours 5 %, 1× for 3 days 10 %', () => {
    const spent = (rate: number, hours: number): number => rate * hours / (30 * 24)
    expect(spent(14.4, 1)).toBeCloseTo(0.02)
    expect(spent(6, 6)).toBeCloseTo(0.05)
    expect(spent(1, 72)).toBeCloseTo(0.1)
    expect(DEFAULT_ALERT_RULES.map((rule) => [rule.severity, rule.burnRate, windowLabel(rule.longWindowMs), windowLabel(rule.shortWindowMs)])).toEqual([
      ['page', 14.4, '1h', '5m'],
      ['page', 6, '6h', '30m'],
      ['ticket', 1, '3d', '6h'],
    ])
  })

  it('knows the highest burn rate an objective can show', () => {
    expect(maxBurnRate(0.9)).toBeCloseTo(10)
    expect(maxBurnRate(0.999)).toBeCloseTo(1000)
  })
})

describe('evaluateSli', () => {
  it('is ok, with the whole budget, while nothing fails', () => {
    const counter = new SliCounter(30 * DAY)
    spread(counter, HOUR, 1000, 0)
    const status = evaluateSli(ORDERS, counter, SETTINGS, NOW)
    expect(status).toMatchObject({ name: 'orders', sli: 'availability', state: 'ok', target: 0.999, actual: 1, events: { total: 1000, good: 1000, bad: 0 }, budget: { remaining: 1, remainingEvents: 1 }, firing: [] })
  })

  it('pages when both the hour and the last 5 minutes burn at 14.4× or more', () => {
    const counter = new SliCounter(30 * DAY)
    // 10,000 requests over the hour, 1.5 % failing: a burn rate of 15.
    spread(counter, HOUR, 10_000, 150)
    counter.add(NOW - 1000, 100, 2)
    const status = evaluateSli(ORDERS, counter, SETTINGS, NOW)
    expect(status.burnRates['1h']).toBeGreaterThan(14.4)
    expect(status.burnRates['1h']).toBeLessThan(15.5)
    expect(status.burnRates['5m']).toBeGreaterThan(14.4)
    expect(status.firing).toContain('page: 14.4× over 1h and 5m')
    // An hour of traffic at 15× has spent well over the budget of that traffic.
    expect(status.state).toBe('exhausted')
  })

  it('is critical, not exhausted, when a page rule fires with budget left in the window', () => {
    const counter = new SliCounter(30 * DAY)
    counter.add(NOW - 20 * DAY, 1_000_000, 0)
    spread(counter, HOUR, 10_000, 150)
    const status = evaluateSli(ORDERS, counter, SETTINGS, NOW)
    expect(status.state).toBe('critical')
    expect(status.budget.remaining).toBeGreaterThan(0.8)
    expect(status.firing).toContain('page: 14.4× over 1h and 5m')
  })

  it('does not page on an hour of burning that stopped: the short window says it is over', () => {
    const counter = new SliCounter(30 * DAY)
    // Failures an hour ago, then 15 minutes of clean traffic.
    for (let i = 0; i < 1000; i++) counter.add(NOW - 50 * MINUTE + i * 1000, 1, i % 50 === 0 ? 1 : 0)
    for (let i = 0; i < 900; i++) counter.add(NOW - 15 * MINUTE + i * 1000, 1, 0)
    const status = evaluateSli(ORDERS, counter, { ...SETTINGS, rules: [DEFAULT_ALERT_RULES[0] as (typeof DEFAULT_ALERT_RULES)[number]] }, NOW)
    expect(status.burnRates['1h']).toBeGreaterThan(10)
    expect(status.burnRates['5m']).toBe(0)
    expect(status.firing).toEqual([])
  })

  it('opens a ticket (warning) on a slow burn of 1× over three days and six hours', () => {
    const [loose] = resolveObjective({ name: 'search', availability: 0.99 }, 'test') as [Objective]
    const counter = new SliCounter(30 * DAY)
    // A clean month before, then 1.2 % failing for three days: 1.2× against a 1 % budget.
    for (let i = 0; i < 27_000; i++) counter.add(NOW - 29 * DAY + i * 80_000, 1, 0)
    spread(counter, 3 * DAY, 30_000, 360)
    const status = evaluateSli(loose, counter, SETTINGS, NOW)
    expect(status.burnRates['3d']).toBeCloseTo(1.2, 1)
    expect(status.state).toBe('warning')
    expect(status.firing).toEqual(['ticket: 1× over 3d and 6h'])
    expect(status.budget.remaining).toBeGreaterThan(0)
  })

  it('is exhausted when the window has used more than its budget, and says by how much', () => {
    const counter = new SliCounter(30 * DAY)
    spread(counter, 20 * DAY, 10_000, 20)
    const status = evaluateSli(ORDERS, counter, SETTINGS, NOW)
    // 10 bad events allowed, 20 seen.
    expect(status.budget).toEqual({ remaining: expect.closeTo(-1, 5) as number, remainingEvents: -10 })
    expect(status.state).toBe('exhausted')
  })

  it('fires a rule at exactly its rate despite float rounding: 0.6 % errors against 99.9 % is 6×', () => {
    const counter = new SliCounter(30 * DAY)
    counter.add(NOW - 20 * DAY, 1_000_000, 0)
    spread(counter, 6 * HOUR, 100_000, 600)
    const status = evaluateSli(ORDERS, counter, SETTINGS, NOW)
    expect(status.firing).toContain('page: 6× over 6h and 30m')
    expect(status.state).toBe('critical')
  })

  it('allows exactly 10 bad events in 100 for a 90 % objective', () => {
    const [loose] = resolveObjective({ name: 'batch', availability: 0.9 }, 'test') as [Objective]
    const counter = new SliCounter(30 * DAY)
    counter.add(NOW - HOUR, 100, 0)
    expect(evaluateSli(loose, counter, SETTINGS, NOW).budget.remainingEvents).toBe(10)
  })

  it('reads alert windows longer than a short SLO window in full', () => {
    const [daily] = resolveObjective({ name: 'daily', availability: 0.99, windowDays: 1 }, 'test') as [Objective]
    const counter = new SliCounter(3 * DAY)
    counter.add(NOW - 48 * HOUR, 100, 5)
    counter.add(NOW - HOUR, 100, 0)
    const status = evaluateSli(daily, counter, SETTINGS, NOW)
    expect(status.burnRates['3d']).toBeCloseTo(2.5)
    expect(status.events.total).toBe(100)
  })

  it('needs minEvents before it pages: one failure out of one request does not', () => {
    const counter = new SliCounter(30 * DAY)
    counter.add(NOW - 1000, 1, 1)
    const status = evaluateSli(ORDERS, counter, SETTINGS, NOW)
    expect(status.burnRates['5m']).toBeCloseTo(1000)
    expect(status.state).toBe('ok')
  })
})

describe('objectives', () => {
  it.each([
    [{ name: 'x', availability: 0 }, 'x.availability'],
    [{ name: 'x', availability: 1 }, 'x.availability'],
    [{ name: 'x', availability: 1.5 }, 'x.availability'],
    [{ name: 'x', availability: Number.NaN }, 'x.availability'],
    [{ name: 'x', availability: '0.99' }, 'x.availability'],
    [{ name: 'x', latency: { thresholdMs: 0, target: 0.9 } }, 'x.latency.thresholdMs'],
    [{ name: 'x', latency: { thresholdMs: 100, target: 1 } }, 'x.latency.target'],
    [{ name: 'x' }, "option 'x' expects an availability or a latency objective"],
    [{ name: 'with space', availability: 0.9 }, 'x.name'],
    // All letters, yet too long: the message says so.
    [{ name: 'a'.repeat(65), availability: 0.9 }, "option 'x.name' expects a name of at most 64 characters"],
    [{ name: 'x', availability: 0.9, windowDays: 0 }, 'x.windowDays'],
  ])('refuses %o', (definition, message) => {
    expect(() => resolveObjective(definition, 'x')).toThrow(message)
  })

  it('refuses a key it does not know as an unknown option, naming the known ones', () => {
    expect(() => resolveObjective({ name: 'x', availability: 0.9, budget: 1 }, 'x')).toThrow(expect.objectContaining({
      code: 'FRS_ERR_OPTION_UNKNOWN',
      message: "fastify-resilience: unknown option 'budget' in x; expected one of: name, availability, latency, windowDays",
    }))
  })

  it('refuses a key its latency does not know, a key of the objective misplaced there included, as an unknown option', () => {
    expect(() => resolveObjective({ name: 'x', latency: { thresholdMs: 300, target: 0.99, windowDays: 7 } }, 'x')).toThrow(expect.objectContaining({
      code: 'FRS_ERR_OPTION_UNKNOWN',
      message: "fastify-resilience: unknown option 'windowDays' in x.latency; expected one of: thresholdMs, target",
    }))
  })

  it('accepts a name of 64 characters', () => {
    expect(resolveObjective({ name: 'a'.repeat(64), availability: 0.9 }, 'x')[0]?.name).toBe('a'.repeat(64))
  })

  it('splits availability and latency into two indicators', () => {
    expect(resolveObjective({ name: 'orders', availability: 0.999, latency: { thresholdMs: 300, target: 0.99 }, windowDays: 28 }, 'x')).toEqual([
      { name: 'orders', sli: 'availability', target: 0.999, thresholdMs: undefined, windowMs: 28 * DAY },
      { name: 'orders', sli: 'latency', target: 0.99, thresholdMs: 300, windowMs: 28 * DAY },
    ])
  })
})
