import { afterEach, describe, expect, it, vi } from 'vitest'
import resilience from '../../plugins/index.js'
import type { DeadlinesOptions } from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

async function setup (options: DeadlinesOptions = {}): Promise<TestApp & { handler: ReturnType<typeof vi.fn>, preValidation: ReturnType<typeof vi.fn> }> {
  current = createTestApp()
  await current.app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 2000, ...options } })
  const handler = vi.fn(async (request: { deadline: { timeoutMs: number, headers: () => Record<string, string> } }) => ({
    timeoutMs: request.deadline.timeoutMs,
    forwarded: request.deadline.headers(),
  }))
  const preValidation = vi.fn(async () => {})
  current.app.post('/budget', { preValidation }, handler)
  current.app.get('/budget', handler)
  current.app.get('/long', { config: { deadline: { timeoutMs: 2_147_483_647 } } }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 30))
    return { ok: true }
  })
  return { ...current, handler, preValidation }
}

describe('caller budget', () => {
  it('a caller header shortens the deadline by the safety margin', async () => {
    const { app } = await setup()
    const res = await app.inject({ url: '/budget', headers: { 'x-request-timeout-ms': '300' } })
    expect(res.json().timeoutMs).toBe(290)
    expect(Number(res.json().forwarded['x-request-timeout-ms'])).toBeLessThanOrEqual(290)
  })

  it('a caller header never lengthens the route deadline', async () => {
    const { app } = await setup()
    const res = await app.inject({ url: '/budget', headers: { 'x-request-timeout-ms': '60000' } })
    expect(res.json().timeoutMs).toBe(2000)
  })

  it('the header name is configurable', async () => {
    const { app } = await setup({ header: 'X-Deadline-Ms', safetyMarginMs: 0 })
    const res = await app.inject({ url: '/budget', headers: { 'x-deadline-ms': '100', 'x-request-timeout-ms': '50' } })
    expect(res.json().timeoutMs).toBe(100)
    expect(Object.keys(res.json().forwarded)).toEqual(['x-deadline-ms'])
    expect(Number(res.json().forwarded['x-deadline-ms'])).toBeLessThanOrEqual(100)
  })

  it('a spent budget is refused with a 504 before body parsing, hooks or the handler', async () => {
    const { app, handler, preValidation, logs } = await setup()
    const res = await app.inject({ method: 'POST', url: '/budget', headers: { 'x-request-timeout-ms': '0' }, payload: { big: 'x'.repeat(1000) } })
    expect(res.statusCode).toBe(504)
    expect(res.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:deadline-exceeded', status: 504 })
    expect(preValidation).not.toHaveBeenCalled()
    expect(handler).not.toHaveBeenCalled()
    expect(logs.some((line) => line.msg === 'request refused: its budget is already spent' && line.callerBudgetMs === 0)).toBe(true)
  })

  it('a budget below the minimum is refused', async () => {
    const { app, handler } = await setup({ minimumMs: 50 })
    const res = await app.inject({ url: '/budget', headers: { 'x-request-timeout-ms': '55' } })
    expect(res.statusCode).toBe(504)
    expect(res.json().detail).toMatch(/budget of 55 ms leaves 45 ms, less than the 50 ms/)
    expect(handler).not.toHaveBeenCalled()
  })

  it('grpc-timeout is read only when configured', async () => {
    const plain = await setup({ safetyMarginMs: 0 })
    expect((await plain.app.inject({ url: '/budget', headers: { 'grpc-timeout': '1S' } })).json().timeoutMs).toBe(2000)
    await plain.app.close()
    const grpc = await setup({ grpcTimeout: true, safetyMarginMs: 0 })
    expect((await grpc.app.inject({ url: '/budget', headers: { 'grpc-timeout': '1S' } })).json().timeoutMs).toBe(1000)
    expect((await grpc.app.inject({ url: '/budget', headers: { 'grpc-timeout': '1S', 'x-request-timeout-ms': '300' } })).json().timeoutMs).toBe(300)
  })

  it("Envoy's expected timeout is trusted only when configured", async () => {
    const untrusted = await setup({ safetyMarginMs: 0 })
    expect((await untrusted.app.inject({ url: '/budget', headers: { 'x-envoy-expected-rq-timeout-ms': '400' } })).json().timeoutMs).toBe(2000)
    await untrusted.app.close()
    const trusted = await setup({ trustEnvoyHeader: true, safetyMarginMs: 0 })
    expect((await trusted.app.inject({ url: '/budget', headers: { 'x-envoy-expected-rq-timeout-ms': '400' } })).json().timeoutMs).toBe(400)
  })

  it.each([
    ['x-request-timeout-ms', {}, '99999999999999'],
    ['x-request-timeout-ms', {}, '86400001'],
    ['x-request-timeout-ms', {}, '9'.repeat(400)],
    ['grpc-timeout', { grpcTimeout: true }, '99999999H'],
    ['grpc-timeout', { grpcTimeout: true }, '99999999S'],
    ['x-envoy-expected-rq-timeout-ms', { trustEnvoyHeader: true }, '99999999999999'],
  ] as const)('a %s budget longer than the route (%#) keeps the route deadline, it is not refused', async (header, options, value) => {
    const { app, handler } = await setup(options)
    const res = await app.inject({ url: '/budget', headers: { [header]: value } })
    expect(res.statusCode).toBe(200)
    expect(res.json().timeoutMs).toBe(2000)
    expect(handler).toHaveBeenCalledOnce()
    // A long budget beside a short one: the short one still wins.
    const both = await app.inject({ url: '/budget', headers: { [header]: value, 'x-request-timeout-ms': header === 'x-request-timeout-ms' ? value : '310' } })
    expect(both.json().timeoutMs).toBe(header === 'x-request-timeout-ms' ? 2000 : 300)
  })

  it('a huge budget does not lengthen the largest route timeout a timer can hold either', async () => {
    const { app } = await setup()
    const res = await app.inject({ url: '/long', headers: { 'x-request-timeout-ms': '99999999999999' } })
    expect(res.statusCode).toBe(200)
  })

  it('the largest route timeout a timer can hold does not fire at once', async () => {
    const { app } = await setup()
    expect((await app.inject({ url: '/long' })).statusCode).toBe(200)
  })

  it('a one-day caller budget does not fire at once either', async () => {
    const { app } = await setup()
    expect((await app.inject({ url: '/long', headers: { 'x-request-timeout-ms': '86400000' } })).statusCode).toBe(200)
  })
})

const malformed: Array<[string, Record<string, string>, RegExp]> = [
  ['non-numeric', { 'x-request-timeout-ms': 'soon' }, /not a whole, non-negative number/],
  ['negative', { 'x-request-timeout-ms': '-100' }, /not a whole, non-negative number/],
  ['fractional', { 'x-request-timeout-ms': '100.5' }, /not a whole, non-negative number/],
  ['exponent', { 'x-request-timeout-ms': '1e99' }, /not a whole, non-negative number/],
  ['long non-numeric', { 'x-request-timeout-ms': '9'.repeat(10_000) + 'x' }, /not a whole, non-negative number/],
  ['empty', { 'x-request-timeout-ms': '' }, /empty/],
  ['repeated', { 'x-request-timeout-ms': '100, 200' }, /repeated/],
]

describe('malformed budget headers', () => {
  it.each(malformed)('a %s header is refused with a 400 problem by default', async (_name, headers, reason) => {
    const { app, handler, logs } = await setup()
    const res = await app.inject({ url: '/budget', headers })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:invalid-deadline', status: 400, header: 'x-request-timeout-ms' })
    expect(res.json().detail).toMatch(reason)
    expect(handler).not.toHaveBeenCalled()
    expect(logs.some((line) => line.level === LOG_LEVEL.info && line.msg === 'malformed deadline header refused')).toBe(true)
  })

  it.each(malformed)('a %s header gets the route deadline with onInvalidHeader: ignore', async (_name, headers) => {
    const { app } = await setup({ onInvalidHeader: 'ignore' })
    const res = await app.inject({ url: '/budget', headers })
    expect(res.statusCode).toBe(200)
    expect(res.json().timeoutMs).toBe(2000)
  })

  it('a repeated header sent as two lines over the wire is refused', async () => {
    const { app } = await setup()
    const res = await app.inject({ url: '/budget', headers: { 'x-request-timeout-ms': ['100', '200'] as unknown as string } })
    expect(res.statusCode).toBe(400)
  })

  it('a malformed gRPC timeout is refused too', async () => {
    const { app } = await setup({ grpcTimeout: true })
    const res = await app.inject({ url: '/budget', headers: { 'grpc-timeout': '10 seconds' } })
    expect(res.statusCode).toBe(400)
    expect(res.json().header).toBe('grpc-timeout')
  })
})
