import Fastify from 'fastify'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import { health } from '../../plugins/index.js'
import type { HealthDocument, HealthOptions, HealthRouteOptions, LifecyclePhase, ResilienceOptions } from '../../plugins/index.js'

describe('health types', () => {
  it('plugin and umbrella options', () => {
    expectTypeOf(health).toExtend<FastifyPluginAsync<HealthOptions<FastifyRequest>>>()
    expectTypeOf<{ health: false }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ health: { readyPath: '/status', livePath: false } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ health: { checks: { db: { check: () => Promise<boolean>, timeoutMs: 500, refuseTraffic: true } } } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ health: { shutdown: { graceMs: 10_000, timeoutMs: 30_000, signals: ['SIGTERM'] } } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ health: { shutdown: false, requiredDependencies: ['payments'] } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ health: { readyPath: 42 } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ health: { shutdown: { signals: ['TERM'] } } }>().not.toExtend<ResilienceOptions>()
  })

  it('routeOptions are a route\'s options, without the ones the library sets', async () => {
    const app = Fastify()
    await app.register(health, { routeOptions: { logLevel: 'warn', schema: { response: { 200: { type: 'object' } } } } })
    // @ts-expect-error the library sets the method
    await app.register(health, { routeOptions: { method: 'POST' } })
    // @ts-expect-error the library sets the handler
    await app.register(health, { routeOptions: { handler: async () => 'x' } })
    // @ts-expect-error a misspelt option
    await app.register(health, { routeOptions: { logLevl: 'info' } })
    expectTypeOf<HealthRouteOptions>().not.toHaveProperty('config')
  })

  it('authorize(request) receives the Fastify request', () => {
    const options: HealthOptions<FastifyRequest> = {
      authorize: (request) => {
        expectTypeOf(request).toEqualTypeOf<FastifyRequest>()
        return request.headers.authorization === 'Bearer ops'
      },
    }
    expectTypeOf(options.authorize).toEqualTypeOf<((request: FastifyRequest) => boolean | Promise<boolean>) | undefined>()
  })

  it('app.health', () => {
    const app = Fastify()
    expectTypeOf(app.health.phase).toEqualTypeOf<LifecyclePhase>()
    expectTypeOf(app.health.ready()).toEqualTypeOf<boolean>()
    expectTypeOf(app.health.readiness()).toEqualTypeOf<HealthDocument>()
    expectTypeOf<LifecyclePhase>().toEqualTypeOf<'serving' | 'draining' | 'closing' | 'closed'>()
    expectTypeOf(app.loadShedding.pressure()).toEqualTypeOf<string | undefined>()
  })
})
