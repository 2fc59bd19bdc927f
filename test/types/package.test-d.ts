import type { FastifyRequest } from 'fastify'
import { Cluster, Redis } from 'ioredis'
import { describe, expectTypeOf, it } from 'vitest'
import type {
  ChaosOptions,
  Clock,
  DeadlinesOptions,
  DependencyOptions,
  ErrorBudgetOptions,
  HealthOptions,
  StatusPageOptions,
  IdempotencyOptions,
  LoadSheddingOptions,
  RedisClient,
  RedisErrorBudgetFleetOptions,
  MemoryIdempotencyStoreOptions,
} from '../../plugins/index.js'

describe('package-wide conventions of the public types', () => {
  it('option types used on their own give callbacks a FastifyRequest', () => {
    const idempotency: IdempotencyOptions = {
      scope: (request) => { expectTypeOf(request).toEqualTypeOf<FastifyRequest>(); return request.ip },
      fingerprint: (request) => { expectTypeOf(request).toEqualTypeOf<FastifyRequest>(); return request.url },
    }
    const shedding: LoadSheddingOptions = {
      priority: (request) => { expectTypeOf(request).toEqualTypeOf<FastifyRequest>(); return 'normal' },
    }
    const chaos: ChaosOptions = {
      requests: { authorize: (request) => { expectTypeOf(request).toEqualTypeOf<FastifyRequest>(); return true } },
    }
    const budget: ErrorBudgetOptions = {
      statusRoute: { authorize: (request) => { expectTypeOf(request).toEqualTypeOf<FastifyRequest>(); return true } },
    }
    const health: HealthOptions = {
      authorize: (request) => { expectTypeOf(request).toEqualTypeOf<FastifyRequest>(); return true },
    }
    const page: StatusPageOptions = {
      authorize: (request) => { expectTypeOf(request).toEqualTypeOf<FastifyRequest>(); return true },
    }
    expectTypeOf([idempotency, shedding, chaos, budget, health, page]).not.toBeAny()
  })

  it('every capability takes its time source as `clock: Clock`', () => {
    expectTypeOf<DeadlinesOptions['clock']>().toEqualTypeOf<Clock | undefined>()
    expectTypeOf<DependencyOptions['clock']>().toEqualTypeOf<Clock | undefined>()
    expectTypeOf<LoadSheddingOptions['clock']>().toEqualTypeOf<Clock | undefined>()
    expectTypeOf<ChaosOptions['clock']>().toEqualTypeOf<Clock | undefined>()
    expectTypeOf<ErrorBudgetOptions['clock']>().toEqualTypeOf<Clock | undefined>()
    expectTypeOf<RedisErrorBudgetFleetOptions['clock']>().toEqualTypeOf<Clock | undefined>()
    expectTypeOf<MemoryIdempotencyStoreOptions['clock']>().toEqualTypeOf<Clock | undefined>()
    expectTypeOf<HealthOptions['clock']>().toEqualTypeOf<Clock | undefined>()
    expectTypeOf<ChaosOptions>().not.toHaveProperty('now')
    expectTypeOf<RedisErrorBudgetFleetOptions>().not.toHaveProperty('now')
  })

  it('an ioredis Redis or Cluster is a RedisClient, without ioredis in the public types', () => {
    expectTypeOf<Redis>().toExtend<RedisClient>()
    expectTypeOf<Cluster>().toExtend<RedisClient>()
    expectTypeOf<{ get: () => void }>().not.toExtend<RedisClient>()
  })
})
