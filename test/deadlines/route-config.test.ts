import Fastify from 'fastify'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { deadlines, problemDetails } from '../../plugins/index.js'
import type { FastifyInstance } from 'fastify'
import { registrationError } from '../helpers/registration.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { rawGet } from '../helpers/raw-http.js'

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close() })

describe('deadline route config', () => {
  it('routes get the plugin default, a route may set its own', async () => {
    app = Fastify()
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 1234 } })
    app.get('/default', async (request) => ({ timeoutMs: request.deadline.timeoutMs }))
    app.get('/own', { config: { deadline: { timeoutMs: 50 } } }, async (request) => ({ timeoutMs: request.deadline.timeoutMs }))
    expect((await app.inject('/default')).json()).toEqual({ timeoutMs: 1234 })
    expect((await app.inject('/own')).json()).toEqual({ timeoutMs: 50 })
  })

  it('route can opt out of the deadline', async () => {
    app = Fastify()
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 20 } })
    app.get('/stream', { config: { deadline: false } }, async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 60))
      return { remaining: String(request.deadline.remainingMs()), forwarded: request.deadline.headers(), aborted: request.deadline.signal.aborted }
    })
    const res = await app.inject({ url: '/stream', headers: { 'x-request-timeout-ms': 'garbage' } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ remaining: 'Infinity', forwarded: {}, aborted: false })
  })

  it('on a route that opted out, sub-budgets a handler leaves undisposed end with its request: no timer is left once it is answered', async () => {
    app = Fastify()
    await app.register(problemDetails)
    await app.register(deadlines)
    app.get('/events', { config: { deadline: false } }, async (request) => {
      const pricing = request.deadline.child(60_000)
      const rest = request.deadline.child(Number.POSITIVE_INFINITY)
      return { pricing: pricing.remainingMs() > 0, rest: rest.remainingMs() > 0 }
    })
    await app.ready()
    const timers = (): number => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length
    const before = timers()
    for (let index = 0; index < 200; index++) expect((await app.inject('/events')).json()).toEqual({ pricing: true, rest: true })
    expect(timers()).toBeLessThanOrEqual(before)
  })

  it('on a route that opted out, request.deadline.signal aborts when the client goes away, and a sub-budget with it', async () => {
    app = Fastify()
    await app.register(problemDetails)
    await app.register(deadlines)
    const seen = deferred<{ request: unknown, child: unknown }>()
    const entered = deferred()
    app.get('/events', { config: { deadline: false } }, async (request) => {
      const child = request.deadline.child(60_000)
      entered.resolve()
      await Promise.all([once(request.deadline.signal, 'abort'), once(child.signal, 'abort')])
      seen.resolve({ request: request.deadline.signal.reason, child: child.signal.reason })
      return {}
    })
    const port = await listen(app)
    const socket = rawGet(port, '/events')
    await entered.promise
    socket.destroy()
    const reasons = await seen.promise
    expect(reasons).toEqual({ request: expect.objectContaining({ code: 'FRS_ERR_CLIENT_CLOSED' }), child: expect.objectContaining({ code: 'FRS_ERR_CLIENT_CLOSED' }) })
  })

  it('works inside an encapsulated context under a prefix', async () => {
    app = Fastify()
    await app.register(async (v1) => {
      await v1.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 30 } })
      // Far past the deadline: a loop stalled by a busy machine runs every
      // timer that came due meanwhile, and the handler's must not be among them.
      v1.get('/slow', async () => { await new Promise((resolve) => setTimeout(resolve, 2_000)); return 'late' })
    }, { prefix: '/v1' })
    app.get('/slow', async () => { await new Promise((resolve) => setTimeout(resolve, 60)); return 'fine' })
    expect((await app.inject('/v1/slow')).statusCode).toBe(504)
    const outside = await app.inject('/slow')
    expect(outside.statusCode).toBe(200)
    expect(outside.body).toBe('fine')
  })

  it.each([
    ['a number', 100, /route GET \/x: config\.deadline expects an object \{ timeoutMs \} or false, instead got a 'number' \(100\)/],
    ['true', true, /config\.deadline expects an object \{ timeoutMs \} or false, instead got a 'boolean' \(true\)/],
    ['a zero timeout', { timeoutMs: 0 }, /config\.deadline\.timeoutMs expects a positive integer of milliseconds up to 2147483647, instead got a 'number' \(0\)/],
    ['a timeout a timer cannot hold', { timeoutMs: 2 ** 31 }, /config\.deadline\.timeoutMs expects a positive integer/],
    ['a fractional timeout', { timeoutMs: 1.5 }, /config\.deadline\.timeoutMs expects a positive integer/],
    ['a string timeout', { timeoutMs: '100' }, /instead got a 'string' \("100"\)/],
    ['an unknown key', { timeout: 100 }, /config\.deadline\.timeout expects no such key \(known: timeoutMs\)/],
    // Every request of such a route would be refused with a 504 before its handler.
    ['a timeout below minimumMs', { timeoutMs: 3 }, /route GET \/x: config\.deadline\.timeoutMs expects an integer of milliseconds from 6 to 2147483647, above the deadlines plugin's minimumMs \(5\), instead got a 'number' \(3\)/],
    ['a timeout equal to minimumMs', { timeoutMs: 5 }, /config\.deadline\.timeoutMs expects an integer of milliseconds from 6 to 2147483647/],
  ])('a route with %s fails at startup, naming the route', async (_name, deadline, message) => {
    const error = await registrationError(async (instance) => {
      await instance.register(resilience)
      instance.get('/x', { config: { deadline: deadline as never } }, async () => 'x')
    })
    expect(error.message).toMatch(message)
  })

  it.each([
    ['defaultTimeoutMs', { defaultTimeoutMs: -1 }, /'deadlines\.defaultTimeoutMs' expects a positive integer of milliseconds/],
    ['defaultTimeoutMs', { defaultTimeoutMs: Number.NaN }, /'deadlines\.defaultTimeoutMs' expects a positive integer/],
    ['header', { header: 'bad header' }, /'deadlines\.header' expects an HTTP header name/],
    ['header', { header: '' }, /'deadlines\.header' expects an HTTP header name/],
    ['header', { header: 'x-timeout:ms' }, /'deadlines\.header' expects an HTTP header name \(letters, digits and !#\$%&'\*\+-\.\^_`\|~\), instead got a 'string' \("x-timeout:ms"\)/],
    ['safetyMarginMs', { safetyMarginMs: -5 }, /'deadlines\.safetyMarginMs' expects a non-negative integer/],
    ['minimumMs', { minimumMs: 1.5 }, /'deadlines\.minimumMs' expects a non-negative integer/],
    ['onInvalidHeader', { onInvalidHeader: 'drop' }, /'deadlines\.onInvalidHeader' expects 'reject' or 'ignore', instead got a 'string' \("drop"\)/],
    ['grpcTimeout', { grpcTimeout: 'yes' }, /'deadlines\.grpcTimeout' expects a boolean/],
    ['clock', { clock: {} }, /'deadlines\.clock' expects an object with a now\(\) method/],
    ['an unknown key', { defaultTimeout: 5 }, /unknown option 'defaultTimeout' in deadlines/],
    // Each of these answered every request (or every request with a budget header) with a 504.
    ['minimumMs', { minimumMs: 100_000, defaultTimeoutMs: 1000 }, /'deadlines\.minimumMs' expects an integer of milliseconds from 0 to 999, below defaultTimeoutMs \(1000\), instead got a 'number' \(100000\)/],
    ['minimumMs', { minimumMs: 20, defaultTimeoutMs: 20, safetyMarginMs: 0 }, /'deadlines\.minimumMs' expects an integer of milliseconds from 0 to 19/],
    ['safetyMarginMs', { safetyMarginMs: 100_000 }, /'deadlines\.safetyMarginMs' expects an integer of milliseconds from 0 to 14994, so that a budget of defaultTimeoutMs \(15000\) leaves more than minimumMs \(5\), instead got a 'number' \(100000\)/],
    ['safetyMarginMs', { defaultTimeoutMs: 1000, minimumMs: 100, safetyMarginMs: 900 }, /'deadlines\.safetyMarginMs' expects an integer of milliseconds from 0 to 899/],
  ])('an invalid %s fails at registration', async (_name, options, message) => {
    const error = await registrationError((instance) => instance.register(resilience, { deadlines: options as never }))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toMatch(message)
  })

  it('takes the longest minimum and margin its timeouts leave room for, and serves with them', async () => {
    app = Fastify()
    // A clock that does not move: the request reaches its route with all of its deadline left.
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 1000, minimumMs: 5, safetyMarginMs: 994, clock: new ManualClock() } })
    app.get('/default', async (request) => ({ timeoutMs: request.deadline.timeoutMs }))
    app.get('/short', { config: { deadline: { timeoutMs: 6 } } }, async (request) => ({ timeoutMs: request.deadline.timeoutMs }))
    // A caller that can wait as long as the default timeout keeps 6 ms, more than the minimum.
    const budget = await app.inject({ url: '/default', headers: { 'x-request-timeout-ms': '1000' } })
    expect(budget.statusCode).toBe(200)
    expect(budget.json()).toEqual({ timeoutMs: 6 })
    expect((await app.inject('/short')).json()).toEqual({ timeoutMs: 6 })
    await app.close()
    app = Fastify()
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 1000, minimumMs: 999, safetyMarginMs: 0, clock: new ManualClock() } })
    app.get('/default', async (request) => ({ timeoutMs: request.deadline.timeoutMs }))
    expect((await app.inject('/default')).json()).toEqual({ timeoutMs: 1000 })
  })

  it('the deadlines plugin needs problem details registered first', async () => {
    const error = await registrationError((instance) => instance.register(deadlines))
    expect(error.message).toMatch(/dependency 'fastify-resilience\/problem-details' of plugin 'fastify-resilience\/deadlines'/)
    await app?.close()
    app = Fastify()
    await app.register(problemDetails)
    await app.register(deadlines, { defaultTimeoutMs: 77 })
    app.get('/', async (request) => request.deadline.timeoutMs)
    expect((await app.inject('/')).body).toBe('77')
  })

  it('unknown routes have no deadline', async () => {
    app = Fastify()
    await app.register(resilience, { loadShedding: false })
    const res = await app.inject({ url: '/missing', headers: { 'x-request-timeout-ms': '0' } })
    expect(res.statusCode).toBe(404)
  })
})
