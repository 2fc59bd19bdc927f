import Fastify from 'fastify'
import type { FastifyContextConfig, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { describe, expectTypeOf, it } from 'vitest'
import { MemoryIdempotencyStore, RedisIdempotencyStore, idempotency } from '../../plugins/index.js'
import type { ClaimOutcome, IdempotencyOptions, IdempotencyStore, KeptResponse, ResilienceOptions, RouteIdempotencyConfig, StoredResponse } from '../../plugins/index.js'

describe('idempotency types', () => {
  it('plugin and umbrella options', () => {
    expectTypeOf(idempotency).toExtend<FastifyPluginAsync<IdempotencyOptions<FastifyRequest>>>()
    expectTypeOf<{ idempotency: false }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ idempotency: { store: MemoryIdempotencyStore, scope: (request: FastifyRequest) => string } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ idempotency: { onStoreError: 'fail-sometimes' } }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ idempotency: { store: { claim: () => void } } }>().not.toExtend<ResilienceOptions>()
  })

  it('the scope function receives the Fastify request', () => {
    const options: ResilienceOptions = {
      idempotency: {
        scope: (request) => {
          expectTypeOf(request).toEqualTypeOf<FastifyRequest>()
          return String(request.headers['x-account'])
        },
      },
    }
    expectTypeOf(options).toExtend<ResilienceOptions>()
  })

  it('route config is typed on FastifyContextConfig', () => {
    const app = Fastify()
    app.post('/a', { config: { idempotency: { required: true, ttlMs: 3_600_000 } } }, async () => 'a')
    app.post('/b', { config: { idempotency: false } }, async () => 'b')
    // @ts-expect-error required is a boolean
    app.post('/c', { config: { idempotency: { required: 'yes' } } }, async () => 'c')
    expectTypeOf<FastifyContextConfig['idempotency']>().toEqualTypeOf<(RouteIdempotencyConfig & object) | false | undefined>()
    // @ts-expect-error the route's idempotency is an object or false, not true
    app.post('/d', { config: { idempotency: true } }, async () => 'd')
  })

  it('stores implement the store interface', () => {
    expectTypeOf<MemoryIdempotencyStore>().toExtend<IdempotencyStore>()
    expectTypeOf<RedisIdempotencyStore>().toExtend<IdempotencyStore>()
    expectTypeOf(new RedisIdempotencyStore({ client: new Redis({ lazyConnect: true }) }).claim).returns.toEqualTypeOf<Promise<ClaimOutcome>>()
    expectTypeOf<StoredResponse['body']>().toEqualTypeOf<Buffer>()
    expectTypeOf<ClaimOutcome['kind']>().toEqualTypeOf<'acquired' | 'in-progress' | 'mismatch' | 'completed'>()
    // The memory store's calls within the call keep text as text; claim still answers bytes.
    expectTypeOf<MemoryIdempotencyStore['claimNow']>().returns.toEqualTypeOf<ClaimOutcome<KeptResponse>>()
    expectTypeOf<MemoryIdempotencyStore['claim']>().returns.toEqualTypeOf<Promise<ClaimOutcome>>()
    expectTypeOf<KeptResponse['body']>().toEqualTypeOf<Buffer | string>()
  })
})
