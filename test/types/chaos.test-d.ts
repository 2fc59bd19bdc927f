import Fastify from 'fastify'
import type { FastifyContextConfig, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import { chaos } from '../../plugins/index.js'
import type { ChaosOptions, ChaosStats, ResilienceOptions, RouteChaosConfig } from '../../plugins/index.js'

describe('chaos types', () => {
  it('plugin and umbrella options', () => {
    expectTypeOf(chaos).toExtend<FastifyPluginAsync<ChaosOptions<FastifyRequest>>>()
    expectTypeOf<{ chaos: false }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ chaos: { enabled: true, maxActiveFaults: 5, stopOnBudget: { slos: ['orders'] } } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ chaos: { enabled: 'yes' } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ chaos: { revealInjected: 'sometimes' } }>().not.toExtend<ResilienceOptions>()
  })

  it('route faults are typed by kind', () => {
    const app = Fastify()
    app.post('/orders', { config: { chaos: { faults: [{ type: 'latency', rate: 0.3, minMs: 100, maxMs: 400 }, { type: 'error', rate: 0.1, status: 503 }] } } }, async () => 'ok')
    app.get('/health', { config: { chaos: false } }, async () => 'ok')
    // @ts-expect-error an error fault needs a status
    app.get('/a', { config: { chaos: { faults: [{ type: 'error', rate: 0.1 }] } } }, async () => 'a')
    // @ts-expect-error no such fault type
    app.get('/b', { config: { chaos: { faults: [{ type: 'explode', rate: 0.1 }] } } }, async () => 'b')
    expectTypeOf<FastifyContextConfig['chaos']>().toEqualTypeOf<RouteChaosConfig | false | undefined>()
  })

  it('app.chaos is typed', () => {
    const app = Fastify()
    expectTypeOf(app.chaos.enable()).toEqualTypeOf<boolean>()
    expectTypeOf(app.chaos.stats()).toEqualTypeOf<ChaosStats>()
    app.chaos.start({ name: 'game-day', seed: 42, durationMs: 20_000, faults: [{ type: 'hang', rate: 0.05 }] })
  })
})
