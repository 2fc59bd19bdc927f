import { afterEach, describe, expect, it } from 'vitest'
import { LOG_LEVEL } from '../helpers/app.js'
import { dependencyApp, failing, startDependency } from './helpers.js'
import type { DependencyServer } from './helpers.js'
import type { TestApp } from '../helpers/app.js'

let server: DependencyServer | undefined
let testApp: TestApp | undefined
afterEach(async () => {
  await testApp?.app.close()
  await server?.close()
})

describe('logs during an outage', () => {
  it('a refusal while the breaker is open logs one info line per request, without a stack; the breaker logs its change once', async () => {
    server = await startDependency(failing(500))
    testApp = await dependencyApp({ dependencies: { payments: { baseUrl: server.url, breaker: { consecutiveFailures: 1, openMs: 60_000 } } } })
    const { app, logs } = testApp
    app.get('/', async (request) => await (await request.dependency('payments').fetch('/charges')).json())
    expect((await app.inject('/')).statusCode).toBe(502)
    const before = logs.length
    for (let i = 0; i < 20; i++) expect((await app.inject('/')).statusCode).toBe(503)
    const lines = logs.slice(before)
    expect(lines.filter((line) => line.level >= LOG_LEVEL.error)).toEqual([])
    const refusals = lines.filter((line) => line.dependency === 'payments' && line.reason === 'breaker-open')
    expect(refusals).toHaveLength(20)
    expect(refusals.every((line) => line.level <= LOG_LEVEL.warn && line.err?.stack === undefined)).toBe(true)
    expect(new Set(refusals.map((line) => line.reqId)).size).toBe(20)
    expect(logs.filter((line) => line.msg === 'dependency breaker opened')).toHaveLength(1)
  })

  it('a failed call is still logged as an error', async () => {
    server = await startDependency(failing(500))
    testApp = await dependencyApp({ dependencies: { payments: { baseUrl: server.url } } })
    const { app, logs } = testApp
    app.get('/', async (request) => await (await request.dependency('payments').fetch('/charges')).json())
    expect((await app.inject('/')).statusCode).toBe(502)
    expect(logs.filter((line) => line.level === LOG_LEVEL.error && line.msg === 'request failed')).toHaveLength(1)
  })
})
