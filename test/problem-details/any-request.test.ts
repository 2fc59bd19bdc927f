import Fastify from 'fastify'
import type { FastifyInstance, InjectOptions } from 'fastify'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import resilience, { problemFrameworkErrors, signFault } from '../../plugins/index.js'
import { APP_PROPERTY_RUNS, anyString, formatFault, headerValue, idempotencyKey, jsonValue, libraryHeaders, quoteKey, requestedFault } from '../helpers/arbitraries.js'
import { expectProblemResponse } from '../helpers/problem-schema.js'

/*
 * Whatever a client sends in the headers the library reads and in a JSON
 * body, the answer is a success or a problem, and a 5xx only when the
 * library decided on it (a deadline, a shed, a store outage, a requested
 * fault). An uncaught exception or unhandled rejection fails the run.
 */

const SECRET = 'a-secret-of-sixteen-or-more'
// The 5xx problems the library sends on purpose; any other 5xx is a defect.
const DECIDED_5XX = new Set([
  'urn:fastify-resilience:problem:deadline-exceeded',
  'urn:fastify-resilience:problem:overloaded',
  'urn:fastify-resilience:problem:idempotency-store-unavailable',
])

// Handlers answer with a summary of the body, not the body: echoing a body
// nested 100,000 deep would overflow JSON.stringify in the handler's own
// answer, a 500 of the application's making, not the library's.
function summary (body: unknown): { received: string } {
  return { received: Array.isArray(body) ? 'array' : body === null ? 'null' : typeof body }
}

function addRoutes (app: FastifyInstance): void {
  app.post('/orders', { config: { idempotency: {} } }, async (request, reply) => await reply.code(201).send(summary(request.body)))
  app.patch('/orders/:id', { config: { idempotency: {} } }, async (request) => ({ id: (request.params as { id: string }).id }))
  app.post('/echo', async (request) => summary(request.body))
  app.get('/items/:id', async (request) => request.params)
}

// The umbrella with its defaults, on an app with Fastify's defaults and no logger.
let plain: FastifyInstance
// Every header reader on, requested faults allowed for signed headers.
let everything: FastifyInstance

beforeAll(async () => {
  plain = Fastify()
  await plain.register(resilience, { idempotency: { unscoped: true } })
  addRoutes(plain)
  everything = Fastify({ frameworkErrors: problemFrameworkErrors })
  await everything.register(resilience, {
    idempotency: { unscoped: true },
    deadlines: { grpcTimeout: true, trustEnvoyHeader: true, defaultTimeoutMs: 2000 },
    chaos: { enabled: true, requests: { secret: SECRET } },
  })
  addRoutes(everything)
})
afterAll(async () => { await Promise.all([plain.close(), everything.close()]) })

const body = fc.oneof(
  { weight: 4, arbitrary: jsonValue.map((value) => JSON.stringify(value)) },
  { weight: 1, arbitrary: anyString },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)) },
  { weight: 1, arbitrary: fc.constant(undefined) }
)

const request = fc.record({
  route: fc.constantFrom(['POST', '/orders'], ['PATCH', '/orders/7'], ['POST', '/echo'], ['GET', '/items/abc'], ['GET', '/nowhere']),
  headers: libraryHeaders,
  body,
})

type Generated = typeof request extends fc.Arbitrary<infer T> ? T : never

function injectOptions ({ route, headers, body: payload }: Generated): InjectOptions {
  const [method, url] = route as readonly [string, string]
  const options: InjectOptions = { method: method as NonNullable<InjectOptions['method']>, url, headers: { ...headers } }
  if (payload !== undefined && method !== 'GET') {
    options.payload = payload
    options.headers = { 'content-type': 'application/json', ...headers }
  }
  return options
}

function expectDecided (res: Awaited<ReturnType<FastifyInstance['inject']>>, allowed5xx: (type: unknown) => boolean): void {
  if (res.statusCode < 400) return
  const problem = expectProblemResponse(res)
  if (res.statusCode >= 500) expect(allowed5xx(problem.type), `an undecided ${res.statusCode}: ${res.body}`).toBe(true)
}

describe('any request', () => {
  it('with the umbrella defaults: never an undecided 5xx, every error a valid problem', async () => {
    await fc.assert(fc.asyncProperty(request, async (generated) => {
      expectDecided(await plain.inject(injectOptions(generated)), (type) => DECIDED_5XX.has(type as string))
    }), APP_PROPERTY_RUNS)
  })

  it('with every header reader and signed chaos requests: the same, faults included', async () => {
    const signed = fc.tuple(requestedFault.filter((fields) => fields.type === 'error' || fields.type === 'exception'), fc.integer({ min: 1000, max: 60_000 }))
      .map(([fields, ahead]) => formatFault({ ...fields, expires: Date.now() + ahead }))
    await fc.assert(fc.asyncProperty(request, fc.option(signed, { nil: undefined }), async (generated, fault) => {
      const options = injectOptions(generated)
      if (fault !== undefined) options.headers = { ...options.headers, 'x-chaos-fault': fault, 'x-chaos-signature': signFault(fault, SECRET) }
      const res = await everything.inject(options)
      // A signed fault may inject its own 5xx (an error status, or a thrown exception's 500).
      expectDecided(res, (type) => DECIDED_5XX.has(type as string) || (fault !== undefined && type === 'about:blank'))
    }), APP_PROPERTY_RUNS)
  })

  it('any JSON body on an idempotent route with a valid key, however deep, is served and replayed', async () => {
    const nested = fc.tuple(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom(['[', ']'], ['{"a":', '}'], ['[{"b":[', ']}]']), jsonValue)
      .map(([depth, [open, close], inner]) => `${(open ?? '').repeat(depth)}${open === '[' ? '' : JSON.stringify(inner)}${(close ?? '').repeat(depth)}`)
    const payload = fc.oneof(jsonValue.map((value) => JSON.stringify(value)), nested)
    await fc.assert(fc.asyncProperty(payload, idempotencyKey, async (text, key) => {
      const send = async () => await plain.inject({ method: 'POST', url: '/orders', headers: { 'content-type': 'application/json', 'idempotency-key': quoteKey(`${key}:${text.length}:${text.slice(0, 40)}`.slice(0, 255)) }, payload: text })
      const first = await send()
      // Parsing a huge body can lag the event loop enough for the shedder to
      // refuse the next request: a 503 it decided on. The key may also have
      // been used before with another body: a 422. Never any other 5xx.
      expectDecided(first, (type) => DECIDED_5XX.has(type as string))
      if (first.statusCode !== 201) return
      const replay = await send()
      if (replay.statusCode === 503) return expectDecided(replay, (type) => DECIDED_5XX.has(type as string))
      expect(replay.statusCode).toBe(201)
      expect(replay.headers['idempotent-replayed']).toBe('true')
    }), { numRuns: 30 })
  })

  it('any path, percent-encoded or not, is routed or answered with a problem', async () => {
    const segment = fc.oneof(fc.string({ unit: fc.constantFrom(...'abc%zZ09E-_.~<>"\''.split('')), maxLength: 30 }), headerValue.map((value) => encodeURIComponent(value)))
    await fc.assert(fc.asyncProperty(fc.constantFrom('/items/', '/orders/', '/', '/nowhere/'), segment, async (prefix, rest) => {
      const res = await everything.inject({ method: prefix === '/orders/' ? 'PATCH' : 'GET', url: prefix + rest.replace(/[?#\s]/g, '') })
      // On a busy machine the shedder may refuse for event-loop lag: a 503 it decided on.
      expectDecided(res, (type) => DECIDED_5XX.has(type as string))
    }), APP_PROPERTY_RUNS)
  })
})
