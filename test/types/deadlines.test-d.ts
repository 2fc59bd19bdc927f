import Fastify from 'fastify'
import type { FastifyContextConfig, FastifyPluginAsync } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import { deadlines, withDeadline } from '../../plugins/index.js'
import type { ChildDeadline, DeadlineOutcome, DeadlinesOptions, RequestDeadline, ResilienceOptions, RouteDeadlineConfig } from '../../plugins/index.js'

describe('deadline types', () => {
  it('plugin and umbrella options', () => {
    expectTypeOf(deadlines).toExtend<FastifyPluginAsync<DeadlinesOptions>>()
    expectTypeOf<{ deadlines: false }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ deadlines: { defaultTimeoutMs: 2000, grpcTimeout: true, onInvalidHeader: 'ignore' } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ deadlines: { onInvalidHeader: 'drop' } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ deadlines: { defaultTimeoutMs: '2000' } }>().not.toExtend<ResilienceOptions>()
  })

  it('route config is typed on FastifyContextConfig, and false opts out', () => {
    const app = Fastify()
    app.get('/a', { config: { deadline: { timeoutMs: 2000 } } }, async () => 'a')
    app.get('/b', { config: { deadline: false } }, async () => 'b')
    // @ts-expect-error timeoutMs is a number
    app.get('/c', { config: { deadline: { timeoutMs: '2s' } } }, async () => 'c')
    expectTypeOf<FastifyContextConfig['deadline']>().toEqualTypeOf<RouteDeadlineConfig | false | undefined>()
    expectTypeOf<RouteDeadlineConfig>().toEqualTypeOf<{ timeoutMs?: number }>()
  })

  it('request.deadline exposes the budget, the signal and the forwarding helpers', () => {
    const app = Fastify()
    app.get('/', async (request) => {
      expectTypeOf(request.deadline).toEqualTypeOf<RequestDeadline>()
      expectTypeOf(request.deadline.remainingMs()).toEqualTypeOf<number>()
      expectTypeOf(request.deadline.expired).toEqualTypeOf<boolean>()
      expectTypeOf(request.deadline.outcome).toEqualTypeOf<DeadlineOutcome>()
      expectTypeOf(request.deadline.signal).toEqualTypeOf<AbortSignal>()
      expectTypeOf(request.deadline.headers()).toEqualTypeOf<Record<string, string>>()
      expectTypeOf(request.deadline.child(100)).toEqualTypeOf<ChildDeadline>()
      expectTypeOf(request.deadline.fetch('http://example.test/')).toEqualTypeOf<Promise<Response>>()
      expectTypeOf(withDeadline(request.deadline, { method: 'POST' })).toEqualTypeOf<RequestInit>()
      return 'ok'
    })
  })

  it('outcomes are a closed set', () => {
    expectTypeOf<DeadlineOutcome>().toEqualTypeOf<'pending' | 'finished' | 'deadline-exceeded' | 'client-closed'>()
  })
})
