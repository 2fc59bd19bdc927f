import Fastify from 'fastify'
import { request as undiciRequest } from 'undici'
import { describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { Dependency, UNBOUNDED_CALLER, fetchPlan, resolveDependenciesOptions } from '../../src/dependencies/index.js'
import { listen } from '../helpers/listen.js'
import { waitFor } from '../helpers/wait-for.js'
import { closedAfterEach, healthy } from './helpers.js'
import type { Behaviour } from './helpers.js'

const { serve, appWith, cleanups } = closedAfterEach()

/** The first request never answers; later ones answer at once. */
const firstHangs: Behaviour = (request, response, call) => {
  if (call > 1) healthy({ call })(request, response, call)
}

describe('hedging', () => {
  it('sends a second attempt after the hedge delay; the first answer wins and the other is cancelled', async () => {
    const server = await serve(firstHangs)
    const { app } = await appWith({ dependencies: { search: { baseUrl: server.url, timeoutMs: 10_000, hedge: { delayMs: 50 } } } })
    app.get('/', async (request) => await (await request.dependency('search').fetch('/q')).json())
    const response = await app.inject('/')
    expect(response.json()).toEqual({ call: 2 })
    await waitFor(() => server.seen[0]?.aborted === true)
    expect(app.dependencies.stats().search).toMatchObject({ hedges: 1, attempts: 2, failures: 0, state: 'closed' })
  })

  it('a first attempt the hedge beat still counts among the latencies that set the hedge delay', async () => {
    const server = await serve(firstHangs)
    const [settings] = resolveDependenciesOptions({ search: { baseUrl: server.url, timeoutMs: 10_000, hedge: { delayMs: 50 } } })
    if (settings === undefined) throw new Error('no settings')
    const search = new Dependency(settings)
    const caller = UNBOUNDED_CALLER
    const response = await search.execute(fetchPlan(settings, '/q', undefined, undefined), caller, () => {})
    expect(await (response as Response).json()).toEqual({ call: 2 })
    // Two samples: the hedge that answered, and the first attempt for as long as it ran (at least the 50 ms delay).
    expect(search.latency.size).toBe(2)
    expect(search.latency.quantile(1)).toBeGreaterThanOrEqual(50)
    await waitFor(() => server.seen[0]?.aborted === true)
  })

  it('once 20 latencies are known, hedges at their percentile instead of delayMs (an app as users build it, called with undici)', async () => {
    // Twenty calls answer at once, the 21st never does, the rest answer at once.
    const server = await serve((request, response, call) => {
      if (call !== 21) healthy({ call })(request, response, call)
    })
    const app = Fastify()
    cleanups.push(async () => { await app.close() })
    // A delayMs far past the client's patience: only the observed percentile can send this hedge in time.
    await app.register(resilience, { dependencies: { search: { baseUrl: server.url, timeoutMs: 60_000, hedge: { delayMs: 60_000, percentile: 0.95 } } } })
    app.get('/', async (request) => await (await request.dependency('search').fetch('/q')).json())
    const port = await listen(app)
    const ask = async (): Promise<unknown> => {
      const { body } = await undiciRequest(`http://127.0.0.1:${port}/`, { headersTimeout: 10_000 })
      return await body.json()
    }
    for (let call = 1; call <= 20; call++) expect(await ask()).toEqual({ call })
    expect(await ask()).toEqual({ call: 22 })
    await waitFor(() => server.seen[20]?.aborted === true)
    expect(app.dependencies.stats().search).toMatchObject({ hedges: 1, attempts: 22 })
  })

  it('sends no hedge when the first attempt answers in time', async () => {
    const server = await serve(healthy())
    const { app } = await appWith({ dependencies: { search: { baseUrl: server.url, hedge: { delayMs: 5_000 } } } })
    app.get('/', async (request) => await (await request.dependency('search').fetch('/q')).json())
    for (let i = 0; i < 5; i++) await app.inject('/')
    expect(server.seen).toHaveLength(5)
    expect(app.dependencies.stats().search?.hedges).toBe(0)
  })

  it('never hedges a write', async () => {
    const server = await serve((request, response, call) => { if (call > 1) healthy()(request, response, call); else setTimeout(() => { healthy()(request, response, call) }, 300) })
    const { app } = await appWith({ dependencies: { search: { baseUrl: server.url, hedge: { delayMs: 20 } } } })
    app.post('/', async (request) => await (await request.dependency('search').fetch('/q', { method: 'POST', body: 'x' })).json())
    expect((await app.inject({ method: 'POST', url: '/' })).statusCode).toBe(200)
    expect(server.seen).toHaveLength(1)
  })

  it('hedges spend the retry budget: none once it is spent', async () => {
    const server = await serve((request, response) => { setTimeout(() => { healthy()(request, response, 0) }, 150) })
    const { app } = await appWith({ dependencies: { search: { baseUrl: server.url, hedge: { delayMs: 20 }, retry: { attempts: 1, budget: { ratio: 0, minPerSecond: 0.2, windowMs: 10_000 } } } } })
    app.get('/', async (request) => await (await request.dependency('search').fetch('/q')).json())
    for (let i = 0; i < 4; i++) expect((await app.inject('/')).statusCode).toBe(200)
    expect(app.dependencies.stats().search).toMatchObject({ hedges: 2, budgetLeft: 0 })
  })
})
