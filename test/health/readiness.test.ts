import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { health, problemDetails } from '../../plugins/index.js'
import type { ResilienceOptions } from '../../plugins/index.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'

/*
 * Liveness and readiness over real sockets: each cause of a failing
 * readiness, what authorised and other callers see, the health+json
 * shape, and checks that a probe storm cannot turn into load.
 */

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map(async (app) => { await app.close() }))
})

const AUTHORISED = { authorization: 'Bearer ops' }
const authorize = (request: { headers: Record<string, unknown> }): boolean => request.headers.authorization === 'Bearer ops'

async function startApp (options: ResilienceOptions, setup: (app: FastifyInstance) => void = () => {}): Promise<{ app: FastifyInstance, url: string }> {
  const app = Fastify()
  apps.push(app)
  // No grace on close: these tests are about probes, not shutdown.
  const healthOptions = options.health === undefined || options.health === false ? {} : { health: { shutdown: { graceMs: 0 }, ...options.health } }
  await app.register(resilience, { loadShedding: false, ...options, ...healthOptions })
  setup(app)
  return { app, url: `http://127.0.0.1:${await listen(app)}` }
}

interface HealthBody {
  status: string
  checks?: Record<string, Array<{ status: string, output?: string, observedValue?: unknown, observedUnit?: string, time?: string }>>
  type?: string
  detail?: string
}

async function probe (url: string, headers: Record<string, string> = {}): Promise<{ status: number, type: string | null, body: HealthBody }> {
  const response = await fetch(url, { headers })
  return { status: response.status, type: response.headers.get('content-type'), body: await response.json() as HealthBody }
}

describe('readiness', () => {
  it('passes as application/health+json: status alone for anyone, every check for an authorised caller', async () => {
    const { url } = await startApp({ health: { authorize, checks: { 'db:ping': { check: () => ({ observedValue: 3, observedUnit: 'ms' }), componentType: 'datastore' } } } })
    const anonymous = await probe(`${url}/health/ready`)
    expect(anonymous).toEqual({ status: 200, type: 'application/health+json; charset=utf-8', body: { status: 'pass' } })
    const detailed = await probe(`${url}/health/ready`, AUTHORISED)
    expect(detailed.status).toBe(200)
    expect(detailed.body.status).toBe('pass')
    expect(detailed.body.checks?.['lifecycle:phase']).toEqual([{ status: 'pass', observedValue: 'serving' }])
    const [db] = detailed.body.checks?.['db:ping'] ?? []
    expect(db).toMatchObject({ status: 'pass', componentType: 'datastore', observedValue: 3, observedUnit: 'ms' })
    expect(Number.isNaN(Date.parse(db?.time ?? ''))).toBe(false)
  })

  it('fails with a not-ready problem when a check fails; only an authorised caller learns which and why', async () => {
    const { url } = await startApp({ health: { authorize, checks: { 'redis:ping': { check: () => { throw new Error('ECONNREFUSED 127.0.0.1:6390') } } } } })
    const anonymous = await probe(`${url}/health/ready`)
    expect(anonymous.status).toBe(503)
    expect(anonymous.type).toMatch(/^application\/problem\+json/)
    expect(anonymous.body).toMatchObject({ type: 'urn:fastify-resilience:problem:not-ready', status: 503 })
    expect(JSON.stringify(anonymous.body)).not.toMatch(/redis|ECONNREFUSED/)
    const detailed = await probe(`${url}/health/ready`, AUTHORISED)
    expect(detailed.status).toBe(503)
    expect(detailed.body.detail).toBe('Failing: redis:ping.')
    expect(detailed.body.checks?.['redis:ping']?.[0]).toMatchObject({ status: 'fail', output: 'ECONNREFUSED 127.0.0.1:6390' })
  })

  it('a check returning false fails; a check that is not required only warns', async () => {
    const { url } = await startApp({ health: { authorize, checks: { cache: { check: () => false, required: false } } } })
    const warned = await probe(`${url}/health/ready`, AUTHORISED)
    expect(warned.status).toBe(200)
    expect(warned.body.status).toBe('warn')
    expect(warned.body.checks?.cache?.[0]).toMatchObject({ status: 'warn', output: 'the check returned false' })
  })

  it('a check that does not settle in time fails, and its signal aborts', async () => {
    let aborted = false
    const { url } = await startApp({
      health: {
        authorize,
        checks: {
          'db:ping': {
            timeoutMs: 50,
            check: async (signal) => await new Promise((resolve) => signal.addEventListener('abort', () => { aborted = true; resolve(true) })),
          },
        },
      },
    })
    const detailed = await probe(`${url}/health/ready`, AUTHORISED)
    expect(detailed.status).toBe(503)
    expect(detailed.body.checks?.['db:ping']?.[0]).toMatchObject({ status: 'fail', output: 'the check did not settle within 50 ms' })
    expect(aborted).toBe(true)
  })

  it('follows a check that starts failing, on its interval', async () => {
    let up = true
    const { url } = await startApp({ health: { checks: { db: { check: () => up, intervalMs: 20 } } } })
    expect((await probe(`${url}/health/ready`)).status).toBe(200)
    up = false
    const failing = async (): Promise<boolean> => (await probe(`${url}/health/ready`)).status === 503
    let failed = false
    for (let attempt = 0; attempt < 200 && !failed; attempt++) {
      failed = await failing()
      if (!failed) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(failed).toBe(true)
  })

  it('1,000 concurrent probes run a check once: probes read the cached result', async () => {
    let runs = 0
    const { url } = await startApp({ health: { checks: { db: { check: () => { runs++; return true }, intervalMs: 60_000 } } } })
    const statuses = await Promise.all(Array.from({ length: 1000 }, async () => (await fetch(`${url}/health/ready`)).status))
    expect(statuses.every((status) => status === 200)).toBe(true)
    expect(runs).toBe(1)
  })

  it('fails while load shedding sheds for process pressure', async () => {
    const { app, url } = await startApp({ health: { authorize }, loadShedding: { pressure: { maxHeapUsedBytes: 1, sampleInterval: 50 } } })
    await waitFor(() => app.loadShedding.pressure() !== undefined)
    const detailed = await probe(`${url}/health/ready`, AUTHORISED)
    expect(detailed.status).toBe(503)
    expect(detailed.body.checks?.['loadShedding:pressure']?.[0]).toMatchObject({ status: 'fail', output: expect.any(String) as string })
  })

  it('can ignore pressure', async () => {
    const { app, url } = await startApp({ health: { pressure: false }, loadShedding: { pressure: { maxHeapUsedBytes: 1, sampleInterval: 50 } } })
    await waitFor(() => app.loadShedding.pressure() !== undefined)
    expect((await probe(`${url}/health/ready`)).status).toBe(200)
  })

  it('an authorize() that throws withholds the details', async () => {
    const { url } = await startApp({ health: { authorize: () => { throw new Error('token store down') } } })
    expect(await probe(`${url}/health/ready`, AUTHORISED)).toMatchObject({ status: 200, body: { status: 'pass' } })
  })

  it('shows the details only when authorize() answers true: a truthy value, such as the header it read, withholds them', async () => {
    // From JavaScript: an authorize that hands back the header it read.
    const headerValue = ((request: { headers: Record<string, unknown> }) => request.headers.authorization) as unknown as (request: unknown) => boolean
    const { url } = await startApp({ health: { authorize: headerValue, checks: { 'db:ping': { check: () => ({ output: 'db-primary.internal:5432' }) } } } })
    const probed = await probe(`${url}/health/ready`, { authorization: 'anything' })
    expect(probed).toEqual({ status: 200, type: 'application/health+json; charset=utf-8', body: { status: 'pass' } })
  })

  it('refuseTraffic: while the check fails, other routes get 503 not-ready with Retry-After, the health routes still answer', async () => {
    let up = true
    const { app, url } = await startApp({ health: { checks: { db: { check: () => up, intervalMs: 1000, refuseTraffic: true } } } }, (app) => {
      app.get('/orders', async () => ({ orders: [] }))
    })
    expect((await fetch(`${url}/orders`)).status).toBe(200)
    up = false
    await waitFor(() => !app.health.ready())
    const refused = await fetch(`${url}/orders`)
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(await refused.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:not-ready' })
    expect((await fetch(`${url}/health/live`)).status).toBe(200)
    expect((await fetch(`${url}/health/ready`)).status).toBe(503)
  })

  it('serves the routes on other paths, with route options such as logLevel', async () => {
    const { url } = await startApp({ health: { livePath: '/livez', readyPath: '/status', routeOptions: { logLevel: 'silent' } } })
    expect((await fetch(`${url}/livez`)).status).toBe(200)
    expect((await fetch(`${url}/status`)).status).toBe(200)
    expect((await fetch(`${url}/health/ready`)).status).toBe(404)
  })

  it('the routes are never shed: readiness answers while every other request is shed', async () => {
    const { url } = await startApp({ health: {}, loadShedding: { limit: 1, maxQueue: 0, loopLag: false, pressure: false } }, (app) => {
      app.get('/hold', async () => await new Promise((resolve) => setTimeout(() => resolve({}), 300)))
    })
    const holding = fetch(`${url}/hold`)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect((await fetch(`${url}/health/ready`)).status).toBe(200)
    await holding
  })
})

describe('liveness', () => {
  it('passes with the event-loop delay for an authorised caller', async () => {
    const { url } = await startApp({ health: { authorize } })
    expect(await probe(`${url}/health/live`)).toEqual({ status: 200, type: 'application/health+json; charset=utf-8', body: { status: 'pass' } })
    const detailed = await probe(`${url}/health/live`, AUTHORISED)
    expect(detailed.body.checks?.['eventLoop:delay']?.[0]).toMatchObject({ status: 'pass', observedUnit: 'ms' })
  })

  it('fails with not-live after the event loop was blocked longer than allowed', async () => {
    const { app, url } = await startApp({ health: { maxEventLoopDelayMs: 200 } })
    const until = Date.now() + 600
    while (Date.now() < until) { /* a stuck event loop */ }
    expect(app.health.liveness().status).toBe('fail')
    const response = await probe(`${url}/health/live`)
    expect(response.status).toBe(503)
    expect(response.body).toMatchObject({ type: 'urn:fastify-resilience:problem:not-live' })
  })
})

describe('options', () => {
  it.each([
    [{ livePath: 'health' }, /health.livePath/],
    [{ livePath: '/same', readyPath: '/same' }, /health.readyPath/],
    [{ checks: { db: { check: 'ping' } } }, /health.checks.db.check/],
    [{ checks: { db: { check: () => true, timeoutMs: 0 } } }, /health.checks.db.timeoutMs/],
    [{ shutdown: { graceMs: 5000, timeoutMs: 1000 } }, /health.shutdown.timeoutMs/],
    [{ shutdown: { signals: ['TERM'] } }, /health.shutdown.signals/],
    [{ shutdown: { signals: ['SIGFOO'] } }, /option 'health.shutdown.signals' expects an array of names of signals this platform has/],
    [{ shutdown: { signals: ['SIGKILL'] } }, /option 'health.shutdown.signals' expects .* a process may catch/],
    [{ shutdown: { signals: ['SIGSTOP'] } }, /health.shutdown.signals/],
    [{ routeOptions: { url: '/x' } }, /health.routeOptions.url/],
    [{ requiredDependencies: 'payments' }, /health.requiredDependencies/],
    [{ exposeStatusRoute: true }, /exposeStatusRoute/],
  ])('rejects %j at registration', async (options, message) => {
    const app = Fastify()
    apps.push(app)
    await app.register(problemDetails)
    await expect(app.register(health, options as never)).rejects.toThrow(message)
  })

  it('works alone, with problem details', async () => {
    const app = Fastify()
    apps.push(app)
    await app.register(problemDetails)
    await app.register(health)
    const response = await app.inject('/health/ready')
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('application/health+json; charset=utf-8')
  })
})
