import Fastify from 'fastify'
import type { FastifyContextConfig, FastifyPluginAsync } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import { dependencies, isDependencyError } from '../../plugins/index.js'
import type {
  BreakerStateName,
  DependenciesOptions,
  DependencyClient,
  DependencyError,
  DependencyStateChange,
  DependencyStats,
  ResilienceOptions,
} from '../../plugins/index.js'

describe('dependencies types', () => {
  it('plugin and umbrella options', () => {
    expectTypeOf(dependencies).toExtend<FastifyPluginAsync<DependenciesOptions>>()
    expectTypeOf<{ dependencies: false }>().toExtend<ResilienceOptions>()
    expectTypeOf<{
      dependencies: {
        payments: {
          baseUrl: 'http://payments.internal'
          timeoutMs: 800
          breaker: { failureRate: 0.5, minimumCalls: 20, windowMs: 10_000, openMs: 5_000 }
          retry: { attempts: 3, budget: { ratio: 0.1, minPerSecond: 5 } }
          bulkhead: { maxConcurrent: 32, maxQueue: 64 }
          idempotencyKeys: true
        }
        recommendations: { timeoutMs: 150, fallback: 'last-good', coalesce: true, hedge: { delayMs: 50 } }
        ledger: { breaker: { consecutiveFailures: 5 }, fallback: { value: [] } }
        prices: { fallback: { lastGood: { maxAgeMs: 60_000 } }, degradedHeader: 'x-degraded' }
        profiles: { coalesce: true, credentialHeaders: ['x-api-key'], maxBodyBytes: 65_536, retry: { maxDelayMs: 5_000 } }
      }
    }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ dependencies: { payments: { timeoutMs: '800' } } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ dependencies: { payments: { breaker: { consecutiveFailures: 3, failureRate: 0.5 } } } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ dependencies: { payments: { fallback: 'stale' } } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ dependencies: { payments: { credentialHeaders: 'x-api-key' } } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ dependencies: { payments: { retry: { backoff: { jitter: 'none' } } } } }>().not.toExtend<ResilienceOptions>()
  })

  it('request.dependency and its calls', () => {
    const app = Fastify()
    app.get('/orders', { config: { dependencies: ['payments'] } }, async (request) => {
      expectTypeOf(request.dependency('payments')).toEqualTypeOf<DependencyClient>()
      expectTypeOf(request.dependency('payments').fetch('/charges', { method: 'POST', body: '{}' })).toEqualTypeOf<Promise<Response>>()
      const total = await request.dependency('ledger').call(async (signal, headers) => {
        expectTypeOf(signal).toEqualTypeOf<AbortSignal>()
        expectTypeOf(headers).toEqualTypeOf<Record<string, string>>()
        return 42
      }, { idempotent: true, key: 'total', fallback: () => 0 })
      expectTypeOf(total).toEqualTypeOf<number>()
      // @ts-expect-error the fallback answers the call's type
      await request.dependency('ledger').call(async () => 42, { fallback: () => 'none' })
      expectTypeOf(request.degraded).toEqualTypeOf<readonly string[]>()
      return total
    })
    expectTypeOf<FastifyContextConfig['dependencies']>().toEqualTypeOf<string[] | undefined>()
  })

  it('app.dependencies and errors', () => {
    const app = Fastify()
    expectTypeOf(app.dependencies.stats()).toEqualTypeOf<Record<string, DependencyStats>>()
    expectTypeOf<DependencyStats['state']>().toEqualTypeOf<BreakerStateName>()
    expectTypeOf<BreakerStateName>().toEqualTypeOf<'closed' | 'open' | 'half-open'>()
    app.dependencies.onStateChange((change) => { expectTypeOf(change).toEqualTypeOf<DependencyStateChange>() })
    const error: unknown = new Error('x')
    if (isDependencyError(error)) {
      expectTypeOf(error).toExtend<DependencyError>()
      expectTypeOf(error.dependency).toEqualTypeOf<string>()
    }
  })
})
