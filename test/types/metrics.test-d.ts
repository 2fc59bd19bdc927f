import Fastify from 'fastify'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Histogram, Registry } from 'prom-client'
import { describe, expectTypeOf, it } from 'vitest'
import { CHANNEL_NAMES, MetricsHub, metrics } from '../../plugins/index.js'
import type {
  BreakerStateMessage,
  DashboardOptions,
  DeadlineExpiredMessage,
  FaultInjectedMessage,
  GrafanaDashboard,
  MetricsOptions,
  ReplayedMessage,
  ResilienceMetrics,
  ResilienceOptions,
  ShedMessage,
} from '../../plugins/index.js'

describe('metrics types', () => {
  it('the umbrella takes metrics options or false', () => {
    expectTypeOf<MetricsOptions>().toEqualTypeOf<{ registry?: Registry, prefix?: string, path?: string }>()
    expectTypeOf<{ metrics: { path: '/metrics', prefix: 'shop_' } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ metrics: false }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ metrics: true }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ metrics: { path: 1 } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ metrics: { registry: {} } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf(metrics).toExtend<FastifyPluginAsync<MetricsOptions>>()
  })

  it('app.resilienceMetrics is declared on Fastify', () => {
    const app = Fastify()
    expectTypeOf(app.resilienceMetrics).toEqualTypeOf<ResilienceMetrics>()
    expectTypeOf(app.resilienceMetrics.registry).toEqualTypeOf<Registry>()
    expectTypeOf(app.resilienceMetrics.grafanaDashboard).toEqualTypeOf<(options?: DashboardOptions) => GrafanaDashboard>()
    expectTypeOf(app.resilienceMetrics.prometheusRules).returns.toEqualTypeOf<string>()
    expectTypeOf<DashboardOptions>().toEqualTypeOf<{ title?: string, uid?: string, rateInterval?: string }>()
  })

  it('a capability registers scrape-time counters and gauges with typed labels', () => {
    const hub = new MetricsHub({} as Registry, '')
    hub.counter({ name: 'x_total', help: 'x', labelNames: ['dependency'], read: (set) => set({ dependency: 'payments' }, 1) })
    // @ts-expect-error a label that is not declared
    hub.gauge({ name: 'y', help: 'y', labelNames: ['dependency'], read: (set) => set({ tenant: 'a' }, 1) })
    expectTypeOf(hub.histogram({ name: 'z_seconds', help: 'z', labelNames: ['dependency'], buckets: [1] })).toEqualTypeOf<Histogram<'dependency'>>()
  })

  it('channel messages carry the Fastify request', () => {
    expectTypeOf(CHANNEL_NAMES.shed).toEqualTypeOf<'fastify-resilience:shed'>()
    expectTypeOf<ShedMessage<FastifyRequest>['request']>().toEqualTypeOf<FastifyRequest>()
    expectTypeOf<ShedMessage>().toExtend<{ route: string, reason: string, priority: string, retryAfterSeconds: number }>()
    expectTypeOf<DeadlineExpiredMessage>().toExtend<{ route: string, timeoutMs: number }>()
    expectTypeOf<ReplayedMessage>().toExtend<{ route: string, statusCode: number }>()
    expectTypeOf<FaultInjectedMessage>().toExtend<{ route: string, type: string, source: string }>()
    expectTypeOf<BreakerStateMessage['to']>().toEqualTypeOf<'closed' | 'open' | 'half-open'>()
  })
})
