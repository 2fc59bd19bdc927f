import type { FastifyContextConfig } from 'fastify'
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { StateChange } from '../../plugins/index.js'
import type { TestApp } from '../helpers/app.js'
import { LOG_LEVEL, createTestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { rawGet } from '../helpers/raw-http.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { registrationError } from '../helpers/registration.js'
import { waitFor } from '../helpers/wait-for.js'
import resilience, { deadlines, errorBudget, errors, problemDetails } from '../../plugins/index.js'
import { budgetApp, parseMetrics } from './helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const ORDERS = { name: 'orders', availability: 0.99, latency: { thresholdMs: 20, target: 0.9 } }

/** A client asks a route with `config`, leaves while the handler works; returns the events the SLO counted. */
async function countedAfterClientLeft ({ app }: TestApp, config: FastifyContextConfig): Promise<number> {
  const started = deferred<Socket>()
  const gate = deferred()
  app.get('/slow', { config }, async (request) => { started.resolve(request.socket); await gate.promise; return {} })
  const port = await listen(app)
  const socket = rawGet(port, '/slow')
  const serverSide = await started.promise
  socket.destroy()
  // The server has seen the client leave before the handler answers.
  await waitFor(() => serverSide.destroyed)
  gate.resolve()
  await new Promise((resolve) => setTimeout(resolve, 20))
  return app.errorBudget.status()[0]?.events.total ?? -1
}

describe('error budget: classification of each outcome', () => {
  it('counts successes as good, 5xx as bad, and leaves 4xx out', async () => {
    current = await budgetApp({})
    const { app } = current
    app.get('/orders/:id', { config: { slo: ORDERS } }, async (request, reply) => {
      const { id } = request.params as { id: string }
      if (id === 'crash') throw new Error('database down')
      if (id === 'missing') return reply.problem({ status: 404, detail: 'no such order' })
      return { id }
    })
    for (const id of ['1', '2', '3', 'crash', 'missing', 'missing']) await app.inject(`/orders/${id}`)
    const [availability, latency] = app.errorBudget.status()
    expect(availability).toMatchObject({ name: 'orders', sli: 'availability', events: { total: 4, good: 3, bad: 1 }, actual: 0.75 })
    expect(latency).toMatchObject({ name: 'orders', sli: 'latency', events: { total: 3 } })
    const metrics = parseMetrics(await app.errorBudget.registry?.metrics() ?? '')
    expect(metrics.get('slo_bad_events_total{slo="orders",sli="availability",route="GET /orders/:id",reason="server-error"}')).toBe(1)
    expect(metrics.get('slo_uncounted_events_total{slo="orders",route="GET /orders/:id",reason="client-error"}')).toBe(2)
    expect(metrics.get('slo_events_total{slo="orders",sli="availability",route="GET /orders/:id",result="good"}')).toBe(3)
    // Series per route template, whatever the paths requested (the HEAD route Fastify adds has none before its first request).
    const routes = new Set([...metrics.keys()].map((name) => /route="([^"]*)"/.exec(name)?.[1]).filter((route) => route !== undefined))
    expect([...routes].sort()).toEqual(['GET /orders/:id'])
  })

  it('counts an answer slower than the threshold against the latency objective only', async () => {
    current = await budgetApp({})
    const { app } = current
    app.get('/slow', { config: { slo: ORDERS } }, async () => { await new Promise((resolve) => setTimeout(resolve, 40)); return {} })
    await app.inject('/slow')
    const [availability, latency] = app.errorBudget.status()
    expect(availability?.events).toEqual({ total: 1, good: 1, bad: 0 })
    expect(latency?.events).toEqual({ total: 1, good: 0, bad: 1 })
    const metrics = parseMetrics(await app.errorBudget.registry?.metrics() ?? '')
    expect(metrics.get('slo_bad_events_total{slo="orders",sli="latency",route="GET /slow",reason="slow"}')).toBe(1)
    // The histogram has a bucket at the 20 ms threshold.
    expect(metrics.get('slo_request_duration_seconds_bucket{le="0.02",slo="orders",route="GET /slow"}')).toBe(0)
    expect(metrics.get('slo_request_duration_seconds_count{slo="orders",route="GET /slow"}')).toBe(1)
  })

  it('counts a 504 at the deadline as bad, labelled deadline', async () => {
    current = await budgetApp({})
    const { app } = current
    app.get('/hang', { config: { slo: ORDERS, deadline: { timeoutMs: 20 } } }, async (request) => {
      await new Promise((resolve) => request.deadline.signal.addEventListener('abort', resolve))
    })
    expect((await app.inject('/hang')).statusCode).toBe(504)
    await new Promise((resolve) => setImmediate(resolve))
    const metrics = parseMetrics(await app.errorBudget.registry?.metrics() ?? '')
    expect(metrics.get('slo_bad_events_total{slo="orders",sli="availability",route="GET /hang",reason="deadline"}')).toBe(1)
  })

  it('labels a 504 at the deadline as deadline with deadlines registered after error budgets', async () => {
    current = createTestApp()
    const { app } = current
    await app.register(problemDetails)
    await app.register(errorBudget, { objectives: [ORDERS] })
    await app.register(deadlines)
    app.get('/hang', { config: { slo: 'orders', deadline: { timeoutMs: 20 } } }, async (request) => {
      await new Promise((resolve) => request.deadline.signal.addEventListener('abort', resolve))
    })
    expect((await app.inject('/hang')).statusCode).toBe(504)
    await new Promise((resolve) => setImmediate(resolve))
    const metrics = parseMetrics(await app.errorBudget.registry?.metrics() ?? '')
    expect(metrics.get('slo_bad_events_total{slo="orders",sli="availability",route="GET /hang",reason="deadline"}')).toBe(1)
    expect(metrics.get('slo_bad_events_total{slo="orders",sli="availability",route="GET /hang",reason="server-error"}')).toBe(0)
  })

  it('counts a shed request as bad, labelled shed', async () => {
    current = await budgetApp({}, { limit: 1, maxQueue: 0, loopLag: false, pressure: false })
    const { app } = current
    const gate = deferred()
    app.get('/work', { config: { slo: ORDERS } }, async () => { await gate.promise; return {} })
    const held = app.inject('/work')
    await new Promise((resolve) => setImmediate(resolve))
    expect((await app.inject('/work')).statusCode).toBe(503)
    gate.resolve()
    await held
    const metrics = parseMetrics(await app.errorBudget.registry?.metrics() ?? '')
    expect(metrics.get('slo_bad_events_total{slo="orders",sli="availability",route="GET /work",reason="shed"}')).toBe(1)
    expect(app.errorBudget.status()[0]?.events).toEqual({ total: 2, good: 1, bad: 1 })
  })

  it('leaves out a request whose client went away', async () => {
    current = await budgetApp({})
    expect(await countedAfterClientLeft(current, { slo: ORDERS })).toBe(0)
  })
})

describe('error budget: corner cases of classification', () => {
  it('labels a client gone before the deadline could answer as client-closed, with deadlines on (the umbrella default)', async () => {
    current = await budgetApp({})
    const { app } = current
    expect(await countedAfterClientLeft(current, { slo: ORDERS })).toBe(0)
    const metrics = parseMetrics(await app.errorBudget.registry?.metrics() ?? '')
    expect(metrics.get('slo_uncounted_events_total{slo="orders",route="GET /slow",reason="client-closed"}')).toBe(1)
  })

  it('leaves out a client gone from a route without a deadline, with deadlines registered', async () => {
    current = await budgetApp({})
    expect(await countedAfterClientLeft(current, { slo: ORDERS, deadline: false })).toBe(0)
  })

  it('leaves out the 504 of a caller whose budget was spent on arrival, so that no client can spend the error budget with a header; a caller budget that runs out while the route works still counts', async () => {
    current = await budgetApp({})
    const { app } = current
    app.get('/quote', { config: { slo: ORDERS } }, async () => ({}))
    app.get('/slow-quote', { config: { slo: ORDERS } }, async (request) => { await once(request.deadline.signal, 'abort'); return {} })
    for (let index = 0; index < 50; index++) expect((await app.inject({ url: '/quote', headers: { 'x-request-timeout-ms': '0' } })).statusCode).toBe(504)
    expect(app.errorBudget.status()[0]).toMatchObject({ name: 'orders', sli: 'availability', events: { total: 0, bad: 0 }, state: 'ok' })
    // 30 ms, less the safety margin: the route had work under way when it ran out.
    expect((await app.inject({ url: '/slow-quote', headers: { 'x-request-timeout-ms': '30' } })).statusCode).toBe(504)
    expect(app.errorBudget.status()[0]).toMatchObject({ events: { total: 1, bad: 1 } })
    const metrics = parseMetrics(await app.errorBudget.registry?.metrics() ?? '')
    expect(metrics.get('slo_uncounted_events_total{slo="orders",route="GET /quote",reason="caller-budget-spent"}')).toBe(50)
    expect(metrics.get('slo_bad_events_total{slo="orders",sli="availability",route="GET /quote",reason="deadline"}')).toBe(0)
    expect(metrics.get('slo_bad_events_total{slo="orders",sli="availability",route="GET /slow-quote",reason="deadline"}')).toBe(1)
  })

  it('keeps one series for routes that differ only by constraints', async () => {
    current = await budgetApp({})
    const { app } = current
    app.get('/v', { constraints: { version: '1.0.0' }, config: { slo: ORDERS } }, async () => 'v1')
    app.get('/v', { constraints: { version: '2.0.0' }, config: { slo: ORDERS } }, async () => 'v2')
    await app.inject({ url: '/v', headers: { 'accept-version': '1.x' } })
    await app.inject({ url: '/v', headers: { 'accept-version': '2.x' } })
    const text = await app.errorBudget.registry?.metrics() ?? ''
    const counts = text.split('\n').filter((line) => line.startsWith('slo_request_duration_seconds_count{slo="orders",route="GET /v"}'))
    expect(counts).toEqual(['slo_request_duration_seconds_count{slo="orders",route="GET /v"} 2'])
  })
})

describe('error budget: declaring SLOs', () => {
  it('applies a default objective to routes without one, and none to routes with slo: false', async () => {
    current = await budgetApp({ objectives: [{ name: 'api', availability: 0.99 }], defaultObjective: 'api' })
    const { app } = current
    app.get('/a', async () => 'a')
    app.get('/b', { config: { slo: 'api' } }, async () => 'b')
    app.get('/health', { config: { slo: false } }, async () => 'ok')
    for (const url of ['/a', '/b', '/health', '/health']) await app.inject(url)
    expect(app.errorBudget.status()).toHaveLength(1)
    expect(app.errorBudget.status()[0]).toMatchObject({ name: 'api', events: { total: 2 } })
  })

  it.each([
    [{ slo: 'nope' }, {}, "route GET /x: config.slo expects an objective object, false, or the name of one of errorBudget.objectives (none declared), instead got a 'string' (\"nope\")"],
    [{ slo: { name: 'x', availability: 1 } }, {}, "option 'slo.availability' expects a target strictly between 0 and 1"],
    [{ slo: { name: 'x', availability: Number.NaN } }, {}, "option 'slo.availability' expects a target strictly between 0 and 1"],
    [{}, { defaultObjective: 'api' }, "option 'errorBudget.defaultObjective' expects the name of one of errorBudget.objectives (none declared)"],
    [{}, { objectives: [{ name: 'api', availability: 0 }] }, "option 'errorBudget.objectives[0].availability' expects a target strictly between 0 and 1"],
    [{}, { minEvents: 0 }, "option 'errorBudget.minEvents' expects a positive integer"],
  ])('refuses route config %o with options %o', async (config, options, message) => {
    const error = await registrationError(async (app) => {
      await app.register(resilience, { errorBudget: options as never })
      app.get('/x', { config: config as never }, async () => 'x')
    })
    expect(error.message).toContain(message)
  })

  it('refuses a key an objective does not know as an unknown option (FRS_ERR_OPTION_UNKNOWN), naming the known ones', async () => {
    const error = await registrationError(async (app) => {
      await app.register(resilience, { errorBudget: { objectives: [{ name: 'api', availabilty: 0.99 } as never] } })
    })
    expect(error).toBeInstanceOf(errors.FRS_ERR_OPTION_UNKNOWN)
    expect(error.message).toBe("fastify-resilience: unknown option 'availabilty' in errorBudget.objectives[0]; expected one of: name, availability, latency, windowDays")
  })

  it.each([
    ['a key meant for the objective, in its latency', { objectives: [{ name: 'api', latency: { thresholdMs: 300, target: 0.99, windowDays: 7 } }] }, "unknown option 'windowDays' in errorBudget.objectives[0].latency; expected one of: thresholdMs, target"],
    ['a key an alert rule cannot carry', { alertRules: [{ severity: 'page', burnRate: 14.4, longWindowMs: 3_600_000, shortWindowMs: 300_000, labels: { team: 'payments' } }] }, "unknown option 'labels' in errorBudget.alertRules[0]; expected one of: severity, burnRate, longWindowMs, shortWindowMs"],
  ])('refuses %s (FRS_ERR_OPTION_UNKNOWN) instead of dropping it', async (_name, options, message) => {
    const error = await registrationError(async (app) => { await app.register(resilience, { errorBudget: options as never }) })
    expect(error).toBeInstanceOf(errors.FRS_ERR_OPTION_UNKNOWN)
    expect(error.message).toBe(`fastify-resilience: ${message}`)
  })

  it('refuses an alert rule without its windows, which were taken as 0 ms and written as ranges Prometheus refuses', async () => {
    const error = await registrationError(async (app) => {
      await app.register(resilience, { errorBudget: { alertRules: [{ severity: 'page', burnRate: 14.4 } as never] } })
    })
    expect(error).toMatchObject({ code: 'FRS_ERR_OPTION_INVALID' })
    expect(error.message).toBe("fastify-resilience: option 'errorBudget.alertRules[0].longWindowMs' expects an integer of milliseconds from one minute to 90 days, instead got 'undefined'")
  })

  it('app.errorBudget.prometheusRules(options) refuses a key it does not know, and rules the plugin would refuse', async () => {
    current = await budgetApp({ objectives: [{ name: 'api', availability: 0.99 }] })
    const { app } = current
    await app.ready()
    const rules = [{ severity: 'page' as const, burnRate: 10, longWindowMs: 3_600_000, shortWindowMs: 300_000 }]
    expect(() => app.errorBudget.prometheusRules({ rule: rules } as never)).toThrow(expect.objectContaining({
      code: 'FRS_ERR_OPTION_UNKNOWN',
      message: "fastify-resilience: unknown option 'rule' in app.errorBudget.prometheusRules options; expected one of: rules",
    }))
    expect(() => app.errorBudget.prometheusRules({ rules: [{ ...rules[0], burnRate: 0 }] as never })).toThrow(expect.objectContaining({
      code: 'FRS_ERR_OPTION_INVALID',
      message: expect.stringContaining("option 'prometheusRules rules[0].burnRate' expects a positive number") as string,
    }))
    expect(app.errorBudget.prometheusRules({ rules })).toContain('(10 * 0.01)')
    expect(app.errorBudget.prometheusRules()).toContain('(14.4 * 0.01)')
  })

  it('app.errorBudget.prometheusRules() guards each window pair with the plugin\'s minEvents, as its own status does', async () => {
    current = await budgetApp({ objectives: [{ name: 'api', availability: 0.99 }], minEvents: 150 })
    await current.app.ready()
    const rules = current.app.errorBudget.prometheusRules()
    expect(rules.match(/ >= 150\)/g)).toHaveLength(3)
    expect(rules).not.toContain('>= 20)')
  })

  it('refuses a key of a route objective\'s latency, naming the route', async () => {
    const error = await registrationError(async (app) => {
      await app.register(resilience)
      app.get('/x', { config: { slo: { name: 'x', latency: { thresholdMs: 300, target: 0.99, windowDays: 7 } as never } } }, async () => 'x')
    })
    expect(error).toMatchObject({ code: 'FRS_ERR_ROUTE_CONFIG_INVALID' })
    expect(error.message).toContain("route GET /x: config.slo expects an objective { name, availability?, latency?, windowDays? }, a declared name, or false, instead got unknown option 'windowDays' in slo.latency; expected one of: thresholdMs, target")
  })

  it('refuses two routes declaring the same SLO name with different objectives', async () => {
    const error = await registrationError(async (app) => {
      await app.register(resilience)
      app.get('/a', { config: { slo: { name: 'orders', availability: 0.99 } } }, async () => 'a')
      app.get('/b', { config: { slo: { name: 'orders', availability: 0.999 } } }, async () => 'b')
    })
    expect(error).toMatchObject({ code: 'FRS_ERR_ROUTE_CONFIG_INVALID' })
    expect(error.message).toContain("route GET /b: config.slo expects the objectives SLO 'orders' was declared with (availability 0.99 over 30 d), instead got availability 0.999 over 30 d")
  })

  it('warns at registration when an objective can never page', async () => {
    current = await budgetApp({ objectives: [{ name: 'batch', availability: 0.9 }] })
    await current.app.ready()
    const warning = current.logs.find((line) => line.level === LOG_LEVEL.warn && line.msg.startsWith("SLO 'batch'"))
    expect(warning?.msg).toBe("SLO 'batch' (availability 0.9) can never page: even with every request bad it burns at 10×, below the rule's 14.4×")
  })
})

describe('error budget: state changes', () => {
  it('evaluates every evaluationIntervalMs by itself, every SLO, however many there are', async () => {
    const changes: StateChange[] = []
    current = await budgetApp({ evaluationIntervalMs: 100, minEvents: 1, onStateChange: (change) => changes.push(change) })
    const { app } = current
    // More indicators than one turn of the periodic evaluation takes.
    for (let i = 0; i < 150; i++) {
      app.get(`/failing/${i}`, { config: { slo: { name: `slo-${i}`, availability: 0.99 } } }, async () => { throw new Error('down') })
    }
    await app.ready()
    for (let i = 0; i < 150; i++) await app.inject(`/failing/${i}`)
    await waitFor(() => changes.length === 150)
    expect(new Set(changes.map((change) => `${change.name} ${change.from}→${change.to}`)).size).toBe(150)
    expect(changes.every((change) => change.to === 'exhausted')).toBe(true)
  })

  it('fires once per transition: ok → exhausted while failing, back to ok once the window has passed', async () => {
    const clock = new ManualClock()
    const changes: StateChange[] = []
    current = await budgetApp({ clock, minEvents: 10, onStateChange: (change) => changes.push(change) })
    const { app, logs } = current
    let failing = false
    app.get('/pay', { config: { slo: { name: 'payments', availability: 0.99, windowDays: 1 } } }, async () => {
      if (failing) throw new Error('provider down')
      return {}
    })
    clock.advance(100 * 86_400_000)
    for (let i = 0; i < 100; i++) await app.inject('/pay')
    expect(app.errorBudget.status()[0]?.state).toBe('ok')
    failing = true
    for (let i = 0; i < 20; i++) await app.inject('/pay')
    app.errorBudget.status()
    app.errorBudget.status()
    clock.advance(2 * 86_400_000)
    app.errorBudget.status()
    app.errorBudget.status()
    expect(changes.map((change) => `${change.name} ${change.from}→${change.to}`)).toEqual(['payments ok→exhausted', 'payments exhausted→ok'])
    expect(changes[0]?.status.firing).toContain('page: 14.4× over 1h and 5m')
    expect(logs.filter((line) => line.msg === 'error budget state changed').map((line) => line.level)).toEqual([LOG_LEVEL.warn, LOG_LEVEL.info])
  })
})
