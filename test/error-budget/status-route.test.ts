import { afterEach, describe, expect, it } from 'vitest'
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
})
