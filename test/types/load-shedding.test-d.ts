import Fastify from 'fastify'
import type { FastifyContextConfig, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import { loadShedding } from '../../plugins/index.js'
import type { LoadSheddingOptions, LoadSheddingStats, Priority, ResilienceOptions, RouteSheddingConfig, ShedReason } from '../../plugins/index.js'

describe('load shedding types', () => {
  it('plugin and umbrella options', () => {
    expectTypeOf(loadShedding).toExtend<FastifyPluginAsync<LoadSheddingOptions<FastifyRequest>>>()
    expectTypeOf<{ loadShedding: false }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ loadShedding: { limit: 64, maxQueue: 0 } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ loadShedding: { limit: { minLimit: 4, tolerance: 2 }, loopLag: false, pressure: { maxHeapUsedBytes: 1e9 } } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ loadShedding: { limit: 'adaptive' } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ loadShedding: { priority: () => 'urgent' } }>().not.toExtend<ResilienceOptions>()
  })

  it('priority(request) receives the Fastify request and returns a class', () => {
    const options: LoadSheddingOptions<FastifyRequest> = {
      priority: (request) => {
        expectTypeOf(request).toEqualTypeOf<FastifyRequest>()
        return request.headers['x-batch'] === undefined ? 'normal' : 'low'
      },
    }
    expectTypeOf(options.priority).toEqualTypeOf<((request: FastifyRequest) => Priority) | undefined>()
    expectTypeOf<Priority>().toEqualTypeOf<'critical' | 'high' | 'normal' | 'low'>()
  })

  it('route config is typed on FastifyContextConfig, and false exempts the route', () => {
    const app = Fastify()
    app.post('/orders', { config: { shedding: { priority: 'critical' } } }, async () => 'ok')
    app.get('/reports', { config: { shedding: { priority: 'low', maxConcurrent: 4, maxQueue: 8, maxQueueWaitMs: 100 } } }, async () => 'ok')
    app.get('/health', { config: { shedding: false } }, async () => 'ok')
    // @ts-expect-error 'urgent' is not a priority class
    app.get('/a', { config: { shedding: { priority: 'urgent' } } }, async () => 'a')
    // @ts-expect-error maxConcurrent is a number
    app.get('/b', { config: { shedding: { maxConcurrent: 'four' } } }, async () => 'b')
    expectTypeOf<FastifyContextConfig['shedding']>().toEqualTypeOf<(RouteSheddingConfig & object) | false | undefined>()
    // @ts-expect-error the route's shedding is an object or false, not true
    app.get('/c', { config: { shedding: true } }, async () => 'c')
  })

  it('app.loadShedding.stats() is typed', () => {
    const app = Fastify()
    expectTypeOf(app.loadShedding.stats()).toEqualTypeOf<LoadSheddingStats>()
    expectTypeOf<LoadSheddingStats['shed']['byReason']>().toEqualTypeOf<Record<ShedReason, number>>()
    expectTypeOf<LoadSheddingStats['shed']['byPriority']>().toEqualTypeOf<Record<Priority, number>>()
    expectTypeOf<LoadSheddingStats['limit']>().toEqualTypeOf<number | null>()
  })
})
