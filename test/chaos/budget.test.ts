import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ErrorBudgetOptions } from '../../plugins/index.js'
import resilience from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { waitFor } from '../helpers/wait-for.js'
import { parseMetrics } from '../error-budget/helpers.js'
import { failing, healthy, startDependency } from '../dependencies/helpers.js'
import type { Behaviour, DependencyServer } from '../dependencies/helpers.js'
import { chaosApp } from './helpers.js'

const BUDGET: ErrorBudgetOptions = { objectives: [{ name: 'api', availability: 0.99 }], defaultObjective: 'api' }

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  vi.useRealTimers()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function budgetedChaosApp (options: Parameters<typeof chaosApp>[0], budget: ErrorBudgetOptions = BUDGET): Promise<TestApp> {
  const testApp = await chaosApp(options, budget)
  cleanups.push(async () => { await testApp.app.close() })
  return testApp
}

/**
 * What the error budget counted for one route, read from its metrics:
 * `good`, each bad reason (`chaos`, `server-error`, …), and each
 * uncounted one as `not counted: <reason>`; zero counts are left out.
 */
async function countedFor (app: FastifyInstance, route: string): Promise<Record<string, number>> {
  const counted: Record<string, number> = {}
  for (const [series, value] of parseMetrics(await app.errorBudget.registry?.metrics() ?? '')) {
    if (value === 0 || !series.includes(`route="${route}"`)) continue
    const reason = /reason="([^"]+)"/.exec(series)?.[1] ?? ''
    if (series.startsWith('slo_events_total{') && series.includes('result="good"')) counted.good = value
    else if (series.startsWith('slo_bad_events_total{')) counted[reason] = value
    else if (series.startsWith('slo_uncounted_events_total{')) counted[`not counted: ${reason}`] = value
  }
  return counted
}

describe('chaos: what error budgets count', () => {
  it('a hang ended by the kill switch proceeds normally and counts as good, with or without a deadline', async () => {
    const { app } = await budgetedChaosApp({ enabled: true })
    app.get('/hang', { config: { chaos: { faults: [{ type: 'hang', rate: 1 }] } } }, async () => 'ok')
    app.get('/hang-unbounded', { config: { deadline: false, chaos: { faults: [{ type: 'hang', rate: 1 }] } } }, async () => 'ok')
    await app.ready()
    const answers = Promise.all([app.inject('/hang'), app.inject('/hang-unbounded')])
    await waitFor(() => app.chaos.stats().active === 2)
    app.chaos.kill('game day over')
    for (const answer of await answers) expect(answer.statusCode).toBe(200)
    expect(await countedFor(app, 'GET /hang')).toEqual({ good: 1 })
    expect(await countedFor(app, 'GET /hang-unbounded')).toEqual({ good: 1 })
    expect(app.errorBudget.status()[0]?.events).toEqual({ total: 2, good: 2, bad: 0 })
  })

  it('a hang on a route without a deadline proceeds after maxHangMs and counts as good', async () => {
    const { app } = await budgetedChaosApp({ enabled: true, maxHangMs: 20 })
    app.get('/hang', { config: { deadline: false, chaos: { faults: [{ type: 'hang', rate: 1 }] } } }, async () => 'ok')
    const answer = await app.inject('/hang')
    expect(answer.statusCode).toBe(200)
    expect(app.chaos.stats().injected.total).toBe(1)
    expect(await countedFor(app, 'GET /hang')).toEqual({ good: 1 })
  })

  it('a hang cut by the deadline is a 504 counted under chaos', async () => {
    const { app } = await budgetedChaosApp({ enabled: true })
    app.get('/hang', { config: { deadline: { timeoutMs: 20 }, chaos: { faults: [{ type: 'hang', rate: 1 }] } } }, async () => 'ok')
    expect((await app.inject('/hang')).statusCode).toBe(504)
    expect(await countedFor(app, 'GET /hang')).toEqual({ chaos: 1 })
  })

  it('an injected 5xx is counted under chaos; an injected 4xx, like any 4xx, is not counted', async () => {
    const { app } = await budgetedChaosApp({ enabled: true })
    app.get('/unavailable', { config: { chaos: { faults: [{ type: 'error', rate: 1, status: 503 }] } } }, async () => 'ok')
    app.get('/slow-down', { config: { chaos: { faults: [{ type: 'error', rate: 1, status: 429 }] } } }, async () => 'ok')
    expect((await app.inject('/unavailable')).statusCode).toBe(503)
    expect((await app.inject('/slow-down')).statusCode).toBe(429)
    expect(await countedFor(app, 'GET /unavailable')).toEqual({ chaos: 1 })
    expect(await countedFor(app, 'GET /slow-down')).toEqual({ 'not counted: client-error': 1 })
    expect(app.errorBudget.status()[0]?.events).toEqual({ total: 1, good: 0, bad: 1 })
  })
})

describe('chaos on a dependency: what error budgets count', () => {
  async function dependencyChaosApp (behaviour: Behaviour = healthy({ paid: true })): Promise<{ app: FastifyInstance, server: DependencyServer }> {
    const server = await startDependency(behaviour)
    cleanups.push(server.close)
    const { app } = createTestApp()
    cleanups.push(async () => { await app.close() })
    await app.register(resilience, {
      loadShedding: false,
      idempotency: false,
      errorBudget: BUDGET,
      chaos: { enabled: true, seed: 7 },
      dependencies: { payments: { baseUrl: server.url, timeoutMs: 100, retry: { attempts: 1 } } },
    })
    app.get('/pay', async (request) => await (await request.dependency('payments').fetch('/charges')).json())
    app.get('/pay-or-later', async (request) => await (await request.dependency('payments').fetch('/charges', undefined, { fallback: { value: { paid: 'later' } } })).json())
    app.get('/pay-caught', async (request) => {
      try {
        return await (await request.dependency('payments').fetch('/charges')).json()
      } catch {
        return { paid: 'later' }
      }
    })
    await app.ready()
    return { app, server }
  }

  it('an injected failure that becomes the answer is counted under chaos; one a fallback or the handler answers is good', async () => {
    const { app, server } = await dependencyChaosApp()
    app.chaos.start({ name: 'payments-down', seed: 1, faults: [{ type: 'error', status: 503, rate: 1, match: { dependency: 'payments' } }] })
    expect((await app.inject('/pay')).statusCode).toBe(502)
    expect((await app.inject('/pay-or-later')).json()).toEqual({ paid: 'later' })
    expect((await app.inject('/pay-caught')).json()).toEqual({ paid: 'later' })
    expect(server.seen).toHaveLength(0)
    expect(await countedFor(app, 'GET /pay')).toEqual({ chaos: 1 })
    expect(await countedFor(app, 'GET /pay-or-later')).toEqual({ good: 1 })
    expect(await countedFor(app, 'GET /pay-caught')).toEqual({ good: 1 })
  })

  it('a hang that holds the call until its timeout is a 504 counted under chaos', async () => {
    const { app, server } = await dependencyChaosApp()
    app.chaos.start({ name: 'payments-hang', seed: 1, faults: [{ type: 'hang', rate: 1, match: { dependency: 'payments' } }] })
    expect((await app.inject('/pay')).json()).toMatchObject({ status: 504, type: 'urn:fastify-resilience:problem:dependency-timeout' })
    expect(server.seen).toHaveLength(0)
    expect(await countedFor(app, 'GET /pay')).toEqual({ chaos: 1 })
  })

  it('a real failure of the dependency stays a server error', async () => {
    const { app, server } = await dependencyChaosApp(failing(503))
    expect((await app.inject('/pay')).statusCode).toBe(502)
    expect(server.seen).toHaveLength(1)
    expect(await countedFor(app, 'GET /pay')).toEqual({ 'server-error': 1 })
  })
})

describe('chaos: the stop when a budget burns', () => {
  // Fake timers move Date.now, the chaos clock, with the timers. The
  // periodic evaluation comes once a minute: what stops chaos within the
  // second is the evaluation after the injections.
  async function watchedApp (): Promise<FastifyInstance> {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
    const { app } = await budgetedChaosApp({ enabled: true, seed: 1, stopOnBudget: { slos: ['orders'] } }, { minEvents: 5, evaluationIntervalMs: 60_000 })
    const config = { slo: { name: 'orders', availability: 0.999 }, chaos: { faults: [{ type: 'error' as const, rate: 1, status: 503 }] } }
    app.post('/orders', { config }, async () => ({ ok: 1 }))
    // An async onSend hook of the application's (compression, signing)
    // puts the count of the answer after the injection that made it.
    app.post('/signed-orders', { config, onSend: async (_request, _reply, payload) => payload }, async () => ({ ok: 1 }))
    await app.ready()
    return app
  }

  it('stops within a second of a burst of injected failures, with no traffic after it', async () => {
    const app = await watchedApp()
    for (let i = 0; i < 10; i++) expect((await app.inject({ method: 'POST', url: '/orders' })).statusCode).toBe(503)
    // The evaluation at the first injection counted none of them.
    expect(app.chaos.stats().enabled).toBe(true)
    vi.advanceTimersByTime(999)
    expect(app.chaos.stats().enabled).toBe(true)
    vi.advanceTimersByTime(1)
    expect(app.chaos.stats()).toMatchObject({ enabled: false, stoppedBecause: 'SLO orders (availability) turned exhausted', injected: { total: 10 } })
    expect((await app.inject({ method: 'POST', url: '/orders' })).statusCode).toBe(200)
  })

  it('stops a second after a failure injected after a quiet spell, not at the next request', async () => {
    const app = await watchedApp()
    for (let i = 0; i < 4; i++) expect((await app.inject({ method: 'POST', url: '/orders' })).statusCode).toBe(503)
    vi.advanceTimersByTime(3000)
    // Four events are fewer than minEvents: the budget is not yet judged.
    expect(app.chaos.stats().enabled).toBe(true)
    // The evaluation at this injection cannot count its own failure, counted once the async hook has run.
    expect((await app.inject({ method: 'POST', url: '/signed-orders' })).statusCode).toBe(503)
    expect(app.chaos.stats().enabled).toBe(true)
    vi.advanceTimersByTime(1000)
    expect(app.chaos.stats()).toMatchObject({ enabled: false, stoppedBecause: 'SLO orders (availability) turned exhausted', injected: { total: 5 } })
    expect((await app.inject({ method: 'POST', url: '/signed-orders' })).statusCode).toBe(200)
  })

  it('arms the evaluation after injections only while one is owed, and close clears it', async () => {
    const app = await watchedApp()
    expect(vi.getTimerCount()).toBe(1)
    expect((await app.inject({ method: 'POST', url: '/orders' })).statusCode).toBe(503)
    expect(vi.getTimerCount()).toBe(2)
    vi.advanceTimersByTime(1000)
    // One more a second later, for an injection the first may have come too early to count.
    expect(vi.getTimerCount()).toBe(2)
    vi.advanceTimersByTime(1000)
    expect(vi.getTimerCount()).toBe(1)
    expect((await app.inject({ method: 'POST', url: '/orders' })).statusCode).toBe(503)
    expect(vi.getTimerCount()).toBe(2)
    await app.close()
    expect(vi.getTimerCount()).toBe(0)
  })
})
