import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

async function setup (): Promise<TestApp> {
  current = createTestApp()
  await current.app.register(resilience, {
    loadShedding: false,
    problemDetails: {
      typeBase: 'https://errors.example.com/problems/',
      types: { 'out-of-stock': { title: 'Product out of stock', status: 409, description: 'The product cannot be ordered now.' } },
    },
  })
  return current
}

describe('reply.problem', () => {
  it('sends a registered type with its stable URI, title and status', async () => {
    const { app } = await setup()
    app.get('/order', (_request, reply) => reply.problem({ type: 'out-of-stock', detail: 'sku 7 is sold out', sku: 7 }))
    const res = await app.inject('/order')
    expect(res.statusCode).toBe(409)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toEqual({
      type: 'https://errors.example.com/problems/out-of-stock',
      title: 'Product out of stock',
      status: 409,
      detail: 'sku 7 is sold out',
      instance: 'req-1',
      sku: 7,
    })
  })

  it('uses about:blank and the reason phrase for a plain status, ignoring a custom title', async () => {
    const { app } = await setup()
    app.get('/plain', (_request, reply) => reply.problem({ status: 402, title: 'Pay up', detail: 'balance too low' }))
    const res = await app.inject('/plain')
    expect(res.json()).toMatchObject({ type: 'about:blank', title: 'Payment Required', status: 402 })
  })

  it('accepts an absolute type URI with its own title', async () => {
    const { app } = await setup()
    app.get('/custom', (_request, reply) => reply.problem({ status: 403, type: 'https://example.net/probs/credit', title: 'Not enough credit' }))
    expect((await app.inject('/custom')).json()).toMatchObject({ type: 'https://example.net/probs/credit', title: 'Not enough credit', status: 403 })
  })

  it('status always equals the HTTP status sent, even when the slug has another default', async () => {
    const { app } = await setup()
    app.get('/gone', (_request, reply) => reply.problem({ type: 'out-of-stock', status: 410 }))
    const res = await app.inject('/gone')
    expect(res.statusCode).toBe(410)
    expect(res.json().status).toBe(410)
  })

  it('extension members cannot override core members and must follow the naming rule', async () => {
    const { app, logs } = await setup()
    app.get('/ext', (_request, reply) => reply.problem({
      status: 400,
      instance: 'https://evil.example/',
      ok_name: 1,
      'bad-name': 2,
      x: 3,
      __proto__x: 4,
      '1abc': 5,
    }))
    const body = (await app.inject('/ext')).json()
    expect(body.instance).toBe('req-1')
    expect(body.ok_name).toBe(1)
    expect(Object.keys(body)).toEqual(['type', 'title', 'status', 'instance', 'ok_name'])
    const warning = logs.find((line) => line.level === LOG_LEVEL.warn)
    expect(warning?.droppedMembers).toEqual(['bad-name', 'x', '__proto__x', '1abc'])
  })

  it('an extension that cannot be serialised still yields the core problem', async () => {
    const { app, logs } = await setup()
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    app.get('/cyclic', (_request, reply) => reply.problem({ status: 422, detail: 'still readable', context: cyclic, big: 10n }))
    const res = await app.inject('/cyclic')
    expect(res.statusCode).toBe(422)
    expect(res.json()).toEqual({ type: 'about:blank', title: 'Unprocessable Entity', status: 422, detail: 'still readable', instance: 'req-1' })
    expect(logs.some((line) => line.level === LOG_LEVEL.warn && line.msg.includes('could not be serialised'))).toBe(true)
  })

  it.each([
    ['a success status', { status: 200 }],
    ['an unknown slug', { type: 'no-such-type' }],
    ['a relative type', { status: 400, type: '/problems/x' }],
    ['no status and no type', {}],
  ])('a call with %s answers a generic 500 problem and logs why', async (_name, init) => {
    const { app, logs } = await setup()
    app.get('/wrong', (_request, reply) => reply.problem(init))
    const res = await app.inject('/wrong')
    expect(res.statusCode).toBe(500)
    expect(res.json().title).toBe('Internal Server Error')
    expect(logs.some((line) => line.level === LOG_LEVEL.error && /FRS_ERR_PROBLEM|problem/.test(line.err?.message ?? ''))).toBe(true)
  })

  it('a client that accepts only application/json gets the same problem body', async () => {
    const { app } = await setup()
    app.get('/order', (_request, reply) => reply.problem({ type: 'out-of-stock' }))
    const plain = await app.inject({ url: '/order' })
    const json = await app.inject({ url: '/order', headers: { accept: 'application/json' } })
    expect(json.headers['content-type']).toBe(plain.headers['content-type'])
    expect(json.json()).toEqual({ ...plain.json(), instance: 'req-2' })
  })

  it('app.problemTypes lists the registered types with their URIs', async () => {
    const { app } = await setup()
    await app.ready()
    expect(app.problemTypes.list()).toContainEqual({
      slug: 'out-of-stock',
      type: 'https://errors.example.com/problems/out-of-stock',
      title: 'Product out of stock',
      status: 409,
      description: 'The product cannot be ordered now.',
    })
  })
})
