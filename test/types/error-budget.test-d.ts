import Fastify from 'fastify'
import type { FastifyContextConfig, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import { errorBudget } from '../../plugins/index.js'
import type { BudgetState, ErrorBudgetOptions, FleetStatus, ObjectiveDefinition, ResilienceOptions, SliStatus, StateChange } from '../../plugins/index.js'

describe('error budget types', () => {
  it('plugin and umbrella options', () => {
    expectTypeOf(errorBudget).toExtend<FastifyPluginAsync<ErrorBudgetOptions<FastifyRequest>>>()
    expectTypeOf<{ errorBudget: false }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ errorBudget: { objectives: [{ name: 'api', availability: 0.999 }], defaultObjective: 'api', statusRoute: true } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ errorBudget: { objectives: [{ name: 'api', availability: '99.9%' }] } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ errorBudget: { metrics: 'prometheus' } }>().not.toExtend<ResilienceOptions>()
  })

  it('route config is an objective, a declared name, or false', () => {
    const app = Fastify()
    app.post('/orders', { config: { slo: { name: 'orders', availability: 0.999, latency: { thresholdMs: 300, target: 0.99 } } } }, async () => 'ok')
    app.get('/search', { config: { slo: 'api' } }, async () => 'ok')
    app.get('/health', { config: { slo: false } }, async () => 'ok')
    // @ts-expect-error latency needs a threshold and a target
    app.get('/a', { config: { slo: { name: 'a', latency: { thresholdMs: 100 } } } }, async () => 'a')
    expectTypeOf<FastifyContextConfig['slo']>().toEqualTypeOf<ObjectiveDefinition | string | false | undefined>()
  })

  it('app.errorBudget.status() is synchronous and fleetStatus() a promise, neither taking arguments', () => {
    const app = Fastify()
    expectTypeOf(app.errorBudget.status()).toEqualTypeOf<SliStatus[]>()
    expectTypeOf(app.errorBudget.fleetStatus()).toEqualTypeOf<Promise<FleetStatus>>()
    expectTypeOf(app.errorBudget.status).parameters.toEqualTypeOf<[]>()
    expectTypeOf(app.errorBudget.fleetStatus).parameters.toEqualTypeOf<[]>()
    expectTypeOf<SliStatus['state']>().toEqualTypeOf<BudgetState>()
    expectTypeOf<BudgetState>().toEqualTypeOf<'ok' | 'warning' | 'critical' | 'exhausted'>()
    app.errorBudget.onStateChange((change) => { expectTypeOf(change).toEqualTypeOf<StateChange>() })
    expectTypeOf(app.errorBudget.prometheusRules()).toEqualTypeOf<string>()
  })
})
