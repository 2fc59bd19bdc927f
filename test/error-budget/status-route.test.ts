import { afterEach, describe, expect, it } from 'vitest'
import { LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { budgetApp } from './helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

describe('error budget: the status route', () => {
  it('is off unless asked for', async () => {
    current = await budgetApp({})
    expect((await current.app.inject('/slo')).statusCode).toBe(404)
  })

  it('answers the status as JSON at the configured path, and is not counted itself', async () => {
    current = await budgetApp({ objectives: [{ name: 'api', availability: 0.999 }], defaultObjective: 'api', statusRoute: { path: '/internal/slo' } })
    const { app } = current
    app.get('/a', async () => 'a')
    await app.inject('/a')
    const response = await app.inject('/internal/slo')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual([expect.objectContaining({ name: 'api', sli: 'availability', state: 'ok', events: { total: 1, good: 1, bad: 0 } })])
  })

  it('answers 403 as a problem when authorize() says no', async () => {
    current = await budgetApp({ statusRoute: { authorize: (request) => request.headers.authorization === 'Bearer ops' } })
    const { app } = current
    const refused = await app.inject('/slo')
    expect(refused.statusCode).toBe(403)
    expect(refused.json()).toMatchObject({ status: 403, detail: 'This client may not read the SLO status.' })
    expect((await app.inject({ url: '/slo', headers: { authorization: 'Bearer ops' } })).statusCode).toBe(200)
  })

  it('lets a caller through only when authorize() answers true: a truthy value is a no, and a throw is a 403 with a log line', async () => {
    // From JavaScript: an authorize that hands back the header it read.
    const authorize = ((request: { headers: Record<string, unknown> }) => {
      if (request.headers['x-ops'] === 'throw') throw new Error('token store down')
      return request.headers['x-ops'] === 'yes' ? true : request.headers['x-ops']
    }) as unknown as (request: unknown) => boolean
    current = await budgetApp({ statusRoute: { authorize } })
    const { app, logs } = current
    expect((await app.inject({ url: '/slo', headers: { 'x-ops': 'yes' } })).statusCode).toBe(200)
    const truthy = await app.inject({ url: '/slo', headers: { 'x-ops': 'anything' } })
    expect(truthy.statusCode).toBe(403)
    expect(truthy.json()).toMatchObject({ status: 403, detail: 'This client may not read the SLO status.' })
    const threw = await app.inject({ url: '/slo', headers: { 'x-ops': 'throw' } })
    expect(threw.statusCode).toBe(403)
    expect(logs).toContainEqual(expect.objectContaining({ level: LOG_LEVEL.warn, option: 'errorBudget.statusRoute.authorize', err: expect.objectContaining({ message: 'token store down' }) as unknown }))
  })
})
