import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { dependencies, health, problemDetails } from '../../plugins/index.js'
import type { ResilienceOptions } from '../../plugins/index.js'
import { failing, healthy, startDependency } from '../dependencies/helpers.js'
import type { DependencyServer } from '../dependencies/helpers.js'
import { listen } from '../helpers/listen.js'

/*
 * Readiness and the dependencies capability: a required dependency whose
 * breaker is open fails readiness; one that is not required does not;
 * a required name that is not declared fails at startup. Real HTTP
 * servers stand in for the dependencies.
 */

const apps: FastifyInstance[] = []
const servers: DependencyServer[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map(async (app) => { await app.close() }))
  await Promise.all(servers.splice(0).map(async (server) => { await server.close() }))
})

const AUTHORISED = { authorization: 'Bearer ops' }

async function startApp (options: ResilienceOptions): Promise<{ app: FastifyInstance, url: string }> {
  const app = Fastify()
  apps.push(app)
  await app.register(resilience, { loadShedding: false, ...options })
  app.get('/pay', async (request) => await (await request.dependency('payments').fetch('/charges')).json())
  app.get('/recommend', async (request) => await (await request.dependency('recommendations').fetch('/')).json())
  return { app, url: `http://127.0.0.1:${await listen(app)}` }
}

async function readiness (url: string): Promise<{ status: number, body: { checks?: Record<string, Array<{ status: string, observedValue?: unknown }>> } }> {
  const response = await fetch(`${url}/health/ready`, { headers: AUTHORISED })
  return { status: response.status, body: await response.json() as { checks?: Record<string, Array<{ status: string, observedValue?: unknown }>> } }
}

describe('readiness and dependencies', () => {
  it('fails while a required dependency\'s breaker is open and passes again once it closes', async () => {
    const payments = await startDependency(failing(500))
    const recommendations = await startDependency(failing(500))
    servers.push(payments, recommendations)
    const { app, url } = await startApp({
      dependencies: {
        payments: { baseUrl: payments.url, breaker: { consecutiveFailures: 2, openMs: 200 } },
        recommendations: { baseUrl: recommendations.url, breaker: { consecutiveFailures: 2, openMs: 60_000 } },
      },
      health: { authorize: (request) => request.headers.authorization === 'Bearer ops', requiredDependencies: ['payments'], shutdown: { graceMs: 0 } },
    })
    const ready = await readiness(url)
    expect(ready.status).toBe(200)
    expect(ready.body.checks?.['payments:breaker']).toEqual([{ status: 'pass', componentType: 'component', observedValue: 'closed' }])

    // The optional dependency's breaker opens: readiness does not care.
    for (let call = 0; call < 2; call++) await fetch(`${url}/recommend`)
    expect(app.dependencies.stats().recommendations?.state).toBe('open')
    expect((await readiness(url)).status).toBe(200)

    // The required one opens: readiness fails and says why.
    for (let call = 0; call < 2; call++) await fetch(`${url}/pay`)
    expect(app.dependencies.stats().payments?.state).toBe('open')
    const down = await readiness(url)
    expect(down.status).toBe(503)
    expect(down.body.checks?.['payments:breaker']?.[0]).toMatchObject({ status: 'fail', observedValue: 'open' })

    // It comes back: once the breaker lets a probe through and it succeeds, readiness passes.
    payments.behave(healthy())
    let state = app.dependencies.stats().payments?.state
    for (let attempt = 0; attempt < 200 && state !== 'closed'; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
      await fetch(`${url}/pay`)
      state = app.dependencies.stats().payments?.state
    }
    expect(state).toBe('closed')
    expect((await readiness(url)).status).toBe(200)
  })

  it('passes again once the open period is over, before any call: readiness failing would keep away the probe that can close the breaker', async () => {
    const payments = await startDependency(failing(500))
    servers.push(payments)
    const { app, url } = await startApp({
      dependencies: { payments: { baseUrl: payments.url, breaker: { consecutiveFailures: 1, openMs: 300 } } },
      health: { authorize: () => true, requiredDependencies: ['payments'], shutdown: { graceMs: 0 } },
    })
    await fetch(`${url}/pay`)
    expect(app.dependencies.stats().payments?.state).toBe('open')
    expect((await readiness(url)).status).toBe(503)
    let remaining = app.dependencies.stats().payments?.openRemainingMs ?? 0
    for (let attempt = 0; attempt < 400 && remaining > 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      remaining = app.dependencies.stats().payments?.openRemainingMs ?? 0
    }
    expect(remaining).toBe(0)
    // No call has been made since: only time has passed.
    expect(payments.seen).toHaveLength(1)
    expect((await readiness(url)).status).toBe(200)
  })

  it('a required dependency that is not declared fails at startup, naming it', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(resilience, { loadShedding: false, dependencies: { payments: { baseUrl: 'http://127.0.0.1:1' } }, health: { requiredDependencies: ['paymnts'] } })
    await expect(app.ready()).rejects.toThrow(/health.requiredDependencies.*expects.*\(payments\).*paymnts/)
  })

  it('required dependencies without the dependencies capability fail at startup', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(problemDetails)
    await app.register(health, { requiredDependencies: ['payments'] })
    await expect(app.ready()).rejects.toThrow(/health.requiredDependencies/)
  })

  it('the health plugin registered before dependencies still finds them at startup', async () => {
    const payments = await startDependency(healthy())
    servers.push(payments)
    const app = Fastify()
    apps.push(app)
    await app.register(problemDetails)
    await app.register(health, { requiredDependencies: ['payments'], shutdown: { graceMs: 0 } })
    await app.register(dependencies, { payments: { baseUrl: payments.url } })
    const response = await app.inject('/health/ready')
    expect(response.statusCode).toBe(200)
  })
})
