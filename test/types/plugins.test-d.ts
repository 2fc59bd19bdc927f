import Fastify from 'fastify'
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import resilience, {
  ProblemError,
  ProblemTypeRegistry,
  errors,
  isProblemError,
  problemClientErrorHandler,
  problemDetails,
  problemFrameworkErrors,
} from '../../plugins/index.js'
import type { ProblemDetailsOptions, ProblemDocument, ProblemInit, ResilienceOptions } from '../../plugins/index.js'

describe('public types', () => {
  it('the umbrella takes one optional key per capability, each may be false', () => {
    expectTypeOf(resilience).toExtend<FastifyPluginAsync<ResilienceOptions>>()
    expectTypeOf<ResilienceOptions>().toExtend<{ problemDetails?: ProblemDetailsOptions | false }>()
    expectTypeOf<{}>().toExtend<ResilienceOptions>()
    expectTypeOf<{ problemDetails: false }>().toExtend<ResilienceOptions>()
    expectTypeOf<{ problemDetails: true }>().not.toExtend<ResilienceOptions>()
    expectTypeOf<{ unknownCapability: {} }>().not.toExtend<ResilienceOptions>()
  })

  it('problem details options are typed', () => {
    expectTypeOf(problemDetails).toExtend<FastifyPluginAsync<ProblemDetailsOptions>>()
    expectTypeOf<ProblemDetailsOptions>().toEqualTypeOf<{
      typeBase?: string
      types?: Record<string, { title: string, status: number, description?: string }>
      exposeInternalErrors?: boolean
      notFound?: boolean
    }>()
    expectTypeOf<{ typeBase: number }>().not.toExtend<ProblemDetailsOptions>()
  })

  it('reply.problem and app.problemTypes are declared on Fastify', () => {
    const app = Fastify()
    expectTypeOf(app.problemTypes).toEqualTypeOf<ProblemTypeRegistry>()
    app.get('/', (_request, reply) => {
      expectTypeOf(reply.problem).parameter(0).toEqualTypeOf<ProblemInit>()
      expectTypeOf(reply.problem({ status: 404 })).toEqualTypeOf<FastifyReply>()
      return reply.problem({ type: 'out-of-stock', detail: 'sold out', sku: 7 })
    })
  })

  it('problem shapes keep their core members typed', () => {
    expectTypeOf<ProblemDocument['status']>().toEqualTypeOf<number>()
    expectTypeOf<ProblemDocument['type']>().toEqualTypeOf<string>()
    expectTypeOf<ProblemInit['detail']>().toEqualTypeOf<string | undefined>()
    expectTypeOf<{ status: '404' }>().not.toExtend<ProblemInit>()
  })

  it('errors and guards are typed', () => {
    expectTypeOf(new ProblemError({ status: 409 }).problem).toEqualTypeOf<Readonly<ProblemInit>>()
    expectTypeOf(isProblemError).guards.toEqualTypeOf<ProblemError>()
    expectTypeOf(new errors.FRS_ERR_OPTION_INVALID('a', 'b', 'c').code).toEqualTypeOf<'FRS_ERR_OPTION_INVALID'>()
    // @ts-expect-error the option error takes three message arguments
    errors.FRS_ERR_OPTION_INVALID(1)
  })

  it('the client error handler fits the Fastify factory option', () => {
    Fastify({ clientErrorHandler: problemClientErrorHandler })
  })

  it('the framework errors handler fits the Fastify factory option', () => {
    Fastify({ frameworkErrors: problemFrameworkErrors, clientErrorHandler: problemClientErrorHandler })
    expectTypeOf(problemFrameworkErrors).parameter(0).toEqualTypeOf<FastifyError>()
  })
})
