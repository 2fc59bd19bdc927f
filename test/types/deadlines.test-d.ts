import Fastify from 'fastify'
import type { FastifyContextConfig, FastifyPluginAsync, RouteShorthandOptions } from 'fastify'
import got from 'got'
import type { Headers as GotHeaders, OptionsInit } from 'got'
import { request as httpRequest } from 'node:http'
import type { RequestOptions } from 'node:http'
import { request as undiciRequest } from 'undici'
import type { Dispatcher } from 'undici'
import { describe, expectTypeOf, it } from 'vitest'
import { deadlines, withDeadline } from '../../plugins/index.js'
import type { ChildDeadline, DeadlineInit, DeadlineOutcome, DeadlinesOptions, RequestDeadline, ResilienceOptions, RouteDeadlineConfig } from '../../plugins/index.js'

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
    expectTypeOf<FastifyContextConfig['deadline']>().toEqualTypeOf<(RouteDeadlineConfig & object) | false | undefined>()
    // Not true, nor a number: in a route's options, Fastify infers the config from the value written.
    // @ts-expect-error the deadline is an object or false
    app.get('/d', { config: { deadline: true } }, async () => 'd')
    // @ts-expect-error the deadline is an object or false
    app.route({ method: 'GET', url: '/e', config: { deadline: 5 }, handler: async () => 'e' })
    expectTypeOf<RouteDeadlineConfig>().toEqualTypeOf<{ timeoutMs?: number }>()
  })

  it('a misspelt route config key is a compile error in options typed RouteShorthandOptions (the README says where it is not)', () => {
    // @ts-expect-error timeoutMS is not a key of the route's deadline
    const options: RouteShorthandOptions = { config: { deadline: { timeoutMS: 5 } } }
    expectTypeOf(options).toEqualTypeOf<RouteShorthandOptions>()
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
      return 'ok'
    })
  })

  it('withDeadline keeps the options type of the client it is given, for fetch and undici.request alike', async () => {
    const app = Fastify()
    app.get('/', async (request) => {
      const forFetch = withDeadline(request.deadline, { method: 'POST', headers: [['accept', 'application/json']] })
      expectTypeOf(forFetch).toExtend<RequestInit>()
      expectTypeOf(forFetch.method).toEqualTypeOf<string>()
      // The headers come back in the shape given: pairs stay pairs.
      expectTypeOf(forFetch.headers).toEqualTypeOf<Array<[string, string]>>()
      expectTypeOf(forFetch.signal).toEqualTypeOf<AbortSignal>()
      expectTypeOf(withDeadline(request.deadline)).toExtend<RequestInit>()
      const typedInit: RequestInit = { method: 'GET' }
      expectTypeOf(withDeadline(request.deadline, typedInit)).toExtend<RequestInit>()
      await fetch('http://example.test/', forFetch)

      // Options that name neither headers nor a signal, and no options at all.
      const post = withDeadline(request.deadline, { method: 'POST', body: '{}' })
      expectTypeOf(post.method).toEqualTypeOf<string>()
      await fetch('http://example.test/', post)
      const postInit = { method: 'POST' as const }
      await fetch('http://example.test/', withDeadline(request.deadline, postInit))
      await undiciRequest('http://example.test/', withDeadline(request.deadline, { method: 'POST', body: '{}' }))
      await undiciRequest('http://example.test/', withDeadline(request.deadline))

      const forUndici = withDeadline(request.deadline, { method: 'GET', headers: { accept: 'application/json' }, bodyTimeout: 1000 } satisfies Partial<Dispatcher.RequestOptions>)
      expectTypeOf(forUndici).toExtend<Parameters<typeof undiciRequest>[1]>()
      expectTypeOf(forUndici.bodyTimeout).toEqualTypeOf<number>()
      await undiciRequest('http://example.test/', forUndici)
      return 'ok'
    })
  })

  it('withDeadline gives got and node:http their own options back, headers in the shape given', async () => {
    const app = Fastify()
    app.get('/', async (request) => {
      // A plain object of headers stays one: got's Headers, an index signature, takes it (a Headers did not compile, TS2769).
      const gotOptions: OptionsInit = { headers: { 'x-a': 'b' }, retry: { limit: 0 } }
      await got('http://example.test/', withDeadline(request.deadline, gotOptions))
      await got('http://example.test/', withDeadline(request.deadline, { headers: { 'x-a': 'b' } }))
      await got('http://example.test/', withDeadline(request.deadline))
      expectTypeOf(withDeadline(request.deadline, { headers: { 'x-a': 'b' } }).headers).toEqualTypeOf<{ 'x-a': string }>()
      expectTypeOf(withDeadline(request.deadline, gotOptions).headers).toEqualTypeOf<GotHeaders | Record<string, string>>()
      expectTypeOf(withDeadline(request.deadline).headers).toEqualTypeOf<Record<string, string>>()

      const httpOptions: RequestOptions = { method: 'GET', headers: { 'x-a': 'b', 'content-length': 0 } }
      httpRequest('http://example.test/', withDeadline(request.deadline, httpOptions)).end()
      httpRequest('http://example.test/', withDeadline(request.deadline, { headers: ['x-a', 'b'] })).end()
      expectTypeOf(withDeadline(request.deadline, { headers: ['x-a', 'b'] }).headers).toEqualTypeOf<string[]>()
      expectTypeOf(withDeadline(request.deadline, { headers: new Headers() }).headers).toEqualTypeOf<Headers>()
      return 'ok'
    })
  })

  it('withDeadline refuses options whose headers or signal it cannot read', () => {
    // An EventEmitter signal (undici's other kind) cannot be combined with the deadline's.
    expectTypeOf<{ headers: string }>().not.toExtend<DeadlineInit>()
    expectTypeOf<{ headers: number }>().not.toExtend<DeadlineInit>()
    expectTypeOf<{ headers: Record<string, boolean> }>().not.toExtend<DeadlineInit>()
    expectTypeOf<Pick<Dispatcher.RequestOptions, 'signal'>>().not.toExtend<DeadlineInit>()
    // Every shape of headers got, node:http, undici.request and fetch take.
    expectTypeOf<{ headers: Record<string, string | string[]>, signal: AbortSignal }>().toExtend<DeadlineInit>()
    expectTypeOf<Pick<OptionsInit, 'headers' | 'signal'>>().toExtend<DeadlineInit>()
    expectTypeOf<Pick<RequestOptions, 'headers' | 'signal'>>().toExtend<DeadlineInit>()
    expectTypeOf<Pick<Dispatcher.RequestOptions, 'headers'>>().toExtend<DeadlineInit>()
    expectTypeOf<Pick<RequestInit, 'headers' | 'signal'>>().toExtend<DeadlineInit>()
    const app = Fastify()
    app.get('/', async (request) => {
      // @ts-expect-error headers are not a string
      withDeadline(request.deadline, { method: 'GET', headers: 'accept: application/json' })
      // @ts-expect-error a signal that is not an AbortSignal
      withDeadline(request.deadline, { signal: { aborted: false } })
      return 'ok'
    })
  })

  it('outcomes are a closed set', () => {
    expectTypeOf<DeadlineOutcome>().toEqualTypeOf<'pending' | 'finished' | 'deadline-exceeded' | 'client-closed'>()
  })
})
