import { afterEach, describe, expect, it } from 'vitest'
import resilience, { loadShedding, problemDetails } from '../../plugins/index.js'
import type { TestApp } from '../helpers/app.js'
import { LOG_LEVEL } from '../helpers/app.js'
import { registrationError } from '../helpers/registration.js'
import { expectShed, sheddingApp } from './helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

describe('load shedding: registration errors', () => {
  it('refuses an unknown priority name in a route config, naming the route and the known classes', async () => {
    const error = await registrationError(async (app) => {
      await app.register(resilience)
      app.get('/orders', { config: { shedding: { priority: 'urgent' as 'high' } } }, async () => ({}))
    })
    expect(error.message).toBe("fastify-resilience: route GET /orders: config.shedding.priority expects one of 'critical', 'high', 'normal', 'low', instead got a 'string' (\"urgent\")")
  })

  it.each([
    [{ shedding: 'low' }, "config.shedding expects an object { priority?, maxConcurrent?, maxQueue?, maxQueueWaitMs? } or false, instead got a 'string' (\"low\")"],
    [{ shedding: { prio: 'low' } }, 'config.shedding.prio expects no such key'],
    [{ shedding: { maxConcurrent: 0 } }, "config.shedding.maxConcurrent expects an integer from 1 to 1000000, instead got a 'number' (0)"],
    [{ shedding: { maxQueue: 5 } }, 'config.shedding.maxQueue expects a shedding.maxConcurrent beside it'],
    [{ shedding: { maxConcurrent: 2, maxQueueWaitMs: -1 } }, 'config.shedding.maxQueueWaitMs expects an integer from 1'],
  ])('refuses route config %o', async (config, message) => {
    const error = await registrationError(async (app) => {
      await app.register(resilience)
      app.get('/x', { config: config as never }, async () => ({}))
    })
    expect(error.message).toContain(message)
  })

  it.each([
    [{ limit: 0 }, "option 'loadShedding.limit' expects an integer from 1"],
    [{ limit: { minLimit: 10, maxLimit: 5 } }, "option 'loadShedding.limit.maxLimit' expects an integer from 10"],
    [{ limit: { growth: 2 } }, "unknown option 'growth' in loadShedding.limit"],
    [{ criticalReserve: 1.5 }, "option 'loadShedding.criticalReserve' expects a number from 0 to 1"],
    [{ maxQueue: -1 }, "option 'loadShedding.maxQueue' expects an integer from 0"],
    [{ priority: 'high' }, "option 'loadShedding.priority' expects a function"],
    [{ loopLag: { target: 5 } }, "unknown option 'target' in loadShedding.loopLag"],
    [{ pressure: { sampleInterval: 10 } }, "option 'loadShedding.pressure.sampleInterval' expects an integer of milliseconds, at least 50"],
    [{ retryAfter: { fallbackSeconds: 60 } }, "option 'loadShedding.retryAfter.fallbackSeconds' expects an integer of seconds from 1 to maxSeconds (30)"],
    [{ retryAfter: { spreadMs: -1 } }, "option 'loadShedding.retryAfter.spreadMs' expects an integer of milliseconds from 0 to 60000"],
    [{ shedAll: true }, "unknown option 'shedAll' in loadShedding"],
  ])('refuses plugin options %o', async (options, message) => {
    const error = await registrationError(async (app) => {
      await app.register(resilience, { loadShedding: options as never })
    })
    expect(error.message).toContain(message)
  })

  it('needs problem details registered first', async () => {
    const error = await registrationError(async (app) => {
      await app.register(loadShedding)
    })
    expect(error.message).toMatch(/fastify-resilience\/problem-details/)
  })

  it('works registered on its own after problem details', async () => {
    const { app } = current = await sheddingApp({})
    await app.close()
    const { createTestApp } = await import('../helpers/app.js')
    current = createTestApp()
    await current.app.register(problemDetails)
    await current.app.register(loadShedding, { limit: 1, maxQueue: 0 })
    current.app.get('/', async () => ({ ok: true }))
    expect((await current.app.inject('/')).statusCode).toBe(200)
  })
})

describe('load shedding: the priority(request) option', () => {
  it('classifies requests of routes that declare no priority; a route\'s own priority wins', async () => {
    current = await sheddingApp({ loopLag: false, pressure: false, limit: 1, maxQueue: 0, priority: (request) => request.headers['x-priority'] === 'batch' ? 'low' : 'high' })
    const { app } = current
    let release: () => void = () => {}
    app.get('/hold', async () => { await new Promise<void>((resolve) => { release = resolve }); return {} })
    app.get('/work', async () => ({}))
    app.get('/checkout', { config: { shedding: { priority: 'critical' } } }, async () => ({}))
    const held = app.inject('/hold')
    await new Promise((resolve) => setImmediate(resolve))
    expect(expectShed(await app.inject({ url: '/work', headers: { 'x-priority': 'batch' } }), 'concurrency').priority).toBe('low')
    expect(expectShed(await app.inject('/work'), 'concurrency').priority).toBe('high')
    expect(expectShed(await app.inject({ url: '/checkout', headers: { 'x-priority': 'batch' } }), 'concurrency').priority).toBe('critical')
    release()
    await held
  })

  it('counts a request as normal when priority() throws, and logs that once', async () => {
    current = await sheddingApp({ loopLag: false, pressure: false, limit: 1, maxQueue: 0, priority: () => { throw new Error('no tenant table') } })
    const { app, logs } = current
    let release: () => void = () => {}
    app.get('/hold', async () => { await new Promise<void>((resolve) => { release = resolve }); return {} })
    app.get('/work', async () => ({}))
    const held = app.inject('/hold')
    await new Promise((resolve) => setImmediate(resolve))
    for (let i = 0; i < 3; i++) expect(expectShed(await app.inject('/work'), 'concurrency').priority).toBe('normal')
    release()
    expect((await held).statusCode).toBe(200)
    const lines = logs.filter((line) => line.msg.startsWith('loadShedding.priority() threw'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: LOG_LEVEL.error, err: { message: 'no tenant table' } })
  })

  it('counts a request as normal when priority() returns an unknown class, and logs that once', async () => {
    current = await sheddingApp({ loopLag: false, pressure: false, priority: () => 'urgent' as 'high' })
    const { app, logs } = current
    app.get('/work', async () => ({}))
    for (let i = 0; i < 3; i++) expect((await app.inject('/work')).statusCode).toBe(200)
    const lines = logs.filter((line) => line.msg.startsWith('loadShedding.priority() returned an unknown class'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ returned: "a 'string' (\"urgent\")" })
  })
})
