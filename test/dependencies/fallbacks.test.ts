import { describe, expect, it } from 'vitest'
import { ManualClock } from '../helpers/manual-clock.js'
import { closedAfterEach, failing, healthy } from './helpers.js'
import type { DependencyFailure } from '../../plugins/index.js'

const { serve, appWith } = closedAfterEach()

describe('fallbacks', () => {
  it('an idempotent replay of a degraded answer keeps the header that marks it, after the dependency recovered', async () => {
    const server = await serve(failing(503))
    const { app } = await appWith({
      idempotency: { unscoped: true },
      dependencies: { quotes: { baseUrl: server.url, fallback: { value: null }, degradedHeader: 'X-Degraded', breaker: false } },
    })
    let runs = 0
    app.post('/quote', { config: { idempotency: { required: true } } }, async (request) => {
      runs++
      return { quote: await (await request.dependency('quotes').fetch('/q')).text() }
    })
    const post = async () => await app.inject({ method: 'POST', url: '/quote', headers: { 'content-type': 'application/json', 'idempotency-key': 'q1' }, payload: '{}' })
    const first = await post()
    expect(first.headers['x-degraded']).toBe('quotes')
    server.behave(healthy({ quote: 'live' }))
    const replay = await post()
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.headers['x-degraded']).toBe('quotes')
    expect(replay.body).toBe(first.body)
    expect(runs).toBe(1)
  })

  it('a value fallback answers instead of the failure, marked degraded on the request, the response and the stats', async () => {
    const server = await serve(failing(500))
    const { app, logs } = await appWith({ dependencies: { recommendations: { baseUrl: server.url, fallback: { value: { items: [] } }, degradedHeader: 'x-degraded' } } })
    app.get('/', async (request) => {
      const items = await (await request.dependency('recommendations').fetch('/for/42')).json() as unknown
      return { items, degraded: request.degraded }
    })
    const response = await app.inject('/')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ items: { items: [] }, degraded: ['recommendations'] })
    expect(response.headers['x-degraded']).toBe('recommendations')
    expect(app.dependencies.stats().recommendations?.fallbacks).toBe(1)
    expect(logs.filter((line) => line.msg === 'dependency answered from its fallback')).toHaveLength(1)
  })

  it('on fetch, a fallback that gives nothing JSON can write leaves the failure standing, not a 500', async () => {
    const server = await serve(failing(503))
    const { app } = await appWith({
      dependencies: {
        declines: { baseUrl: server.url, breaker: false, degradedHeader: 'x-degraded', fallback: () => undefined },
        empty: { baseUrl: server.url, breaker: false, degradedHeader: 'x-degraded', fallback: { value: undefined } },
        big: { baseUrl: server.url, breaker: false, degradedHeader: 'x-degraded', fallback: { value: 10n } },
      },
    })
    app.get('/:name', async (request) => await (await request.dependency((request.params as { name: string }).name).fetch('/recs')).text())
    for (const name of ['declines', 'empty', 'big']) {
      const response = await app.inject(`/${name}`)
      expect(response.statusCode).toBe(502)
      expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', dependency: name })
      expect(response.headers['x-degraded']).toBeUndefined()
      expect(app.dependencies.stats()[name]?.fallbacks).toBe(0)
    }
  })

  it('a healthy answer is not marked degraded', async () => {
    const server = await serve(healthy({ items: [1] }))
    const { app } = await appWith({ dependencies: { recommendations: { baseUrl: server.url, fallback: { value: [] }, degradedHeader: 'x-degraded' } } })
    app.get('/', async (request) => ({ items: await (await request.dependency('recommendations').fetch('/')).json() as unknown, degraded: request.degraded }))
    const response = await app.inject('/')
    expect(response.json()).toEqual({ items: { items: [1] }, degraded: [] })
    expect(response.headers['x-degraded']).toBeUndefined()
  })

  it('dependencies that share a degraded header are listed in it in the order they fell back, and a header of its own stays apart', async () => {
    const server = await serve(failing(500))
    const { app } = await appWith({
      dependencies: {
        recommendations: { baseUrl: server.url, fallback: { value: [] }, degradedHeader: 'x-degraded' },
        pricing: { baseUrl: server.url, fallback: { value: {} }, degradedHeader: 'x-degraded' },
        reviews: { baseUrl: server.url, fallback: { value: [] }, degradedHeader: 'x-reviews-degraded' },
      },
    })
    app.get('/', async (request) => {
      for (const name of ['pricing', 'recommendations', 'reviews']) await request.dependency(name).fetch('/')
      return { degraded: request.degraded }
    })
    const response = await app.inject('/')
    expect(response.json()).toEqual({ degraded: ['pricing', 'recommendations', 'reviews'] })
    expect(response.headers['x-degraded']).toBe('pricing, recommendations')
    expect(response.headers['x-reviews-degraded']).toBe('reviews')
  })

  it('a function fallback gets the failure', async () => {
    const server = await serve(failing(503))
    const seen: DependencyFailure[] = []
    const { app } = await appWith({ dependencies: { prices: { baseUrl: server.url } } })
    app.get('/', async (request) => await request.dependency('prices').call(async (signal, headers) => {
      const response = await fetch(`${server.url}/p`, { signal, headers })
      if (!response.ok) throw Object.assign(new Error('bad status'), { status: response.status })
      return 1
    }, { fallback: (failure) => { seen.push(failure); return 0 } }))
    expect((await app.inject('/')).body).toBe('0')
    expect(seen).toMatchObject([{ dependency: 'prices', reason: 'status', status: 503 }])
  })

  it('last-good answers with the last good answer to the same call within its maximum age, then gives up', async () => {
    const clock = new ManualClock()
    const server = await serve(healthy({ items: ['a', 'b'] }))
    const { app } = await appWith({ dependencies: { recommendations: { baseUrl: server.url, clock, breaker: false, fallback: { lastGood: { maxAgeMs: 60_000 } } } } })
    app.get('/:user', async (request) => {
      const response = await request.dependency('recommendations').fetch(`/for/${(request.params as { user: string }).user}`)
      return { body: await response.json() as unknown, degraded: request.degraded }
    })
    expect((await app.inject('/1')).json()).toEqual({ body: { items: ['a', 'b'] }, degraded: [] })
    server.behave(failing(500))
    clock.advance(30_000)
    expect((await app.inject('/1')).json()).toEqual({ body: { items: ['a', 'b'] }, degraded: ['recommendations'] })
    // Another call has no last good answer of its own.
    expect((await app.inject('/2')).statusCode).toBe(502)
    clock.advance(31_000)
    expect((await app.inject('/1')).statusCode).toBe(502)
  })

  it('falls back when the breaker is open too, without calling the dependency', async () => {
    const server = await serve(failing(500))
    const { app } = await appWith({ dependencies: { recommendations: { baseUrl: server.url, breaker: { consecutiveFailures: 1, openMs: 60_000 }, fallback: { value: [] } } } })
    app.get('/', async (request) => ({ items: await (await request.dependency('recommendations').fetch('/')).json() as unknown, degraded: request.degraded }))
    await app.inject('/')
    expect((await app.inject('/')).json()).toEqual({ items: [], degraded: ['recommendations'] })
    expect(server.seen).toHaveLength(1)
    expect(app.dependencies.stats().recommendations).toMatchObject({ state: 'open', rejections: 1, fallbacks: 2 })
  })
})
