import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import type { ResilienceOptions, StatusPageOptions, StatusSnapshot } from '../../plugins/index.js'
import { statusPage } from '../../plugins/index.js'

describe('status page types', () => {
  it('types the plugin, its options and the umbrella key', () => {
    expectTypeOf(statusPage).toExtend<FastifyPluginAsync<StatusPageOptions<FastifyRequest>>>()
    expectTypeOf<{ statusPage: false }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ statusPage: { authorize: (request: FastifyRequest) => boolean } }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ statusPage: { path: '/ops', intervalMs: 2000, authorize: (request: FastifyRequest) => Promise<boolean> } }>().toExtend<ResilienceOptions>()
    // authorize is required.
    expectTypeOf<{ statusPage: { path: '/ops' } }>().not.toExtend<ResilienceOptions>()
  })

  it('types the snapshot the stream sends', () => {
    expectTypeOf<NonNullable<StatusSnapshot['slos']>['scope']>().toEqualTypeOf<'fleet' | 'local'>()
    expectTypeOf<NonNullable<StatusSnapshot['slos']>['items'][number]['state']>().toEqualTypeOf<'ok' | 'warning' | 'critical' | 'exhausted'>()
    expectTypeOf<NonNullable<StatusSnapshot['chaos']>['enabled']>().toEqualTypeOf<boolean>()
  })
})
