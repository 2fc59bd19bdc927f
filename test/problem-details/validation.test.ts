import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

async function setup (): Promise<TestApp> {
  current = createTestApp({ ajv: { customOptions: { allErrors: true } } })
  await current.app.register(resilience, { loadShedding: false })
  current.app.post('/orders/:shop', {
    schema: {
      params: { type: 'object', properties: { shop: { type: 'integer' } } },
      querystring: { type: 'object', properties: { limit: { type: 'integer', maximum: 100 } } },
      headers: { type: 'object', properties: { 'x-tenant': { type: 'string', minLength: 3 } }, required: ['x-tenant'] },
      body: {
        type: 'object',
        required: ['items', 'a/b'],
        additionalProperties: false,
        properties: {
          'a/b': { type: 'string' },
          'm~n': { type: 'integer' },
          items: { type: 'array', items: { type: 'object', required: ['qty'], properties: { qty: { type: 'integer', minimum: 1 } } } },
        },
      },
    },
  }, async () => ({ ok: true }))
  return current
}

const validHeaders = { 'x-tenant': 'acme' }

describe('validation errors', () => {
  // Fastify's Ajv removes additional properties by default instead of
  // reporting them; the pointer mapping for them is covered by unit tests.
  it('each body violation is an entry with an escaped JSON pointer to the field', async () => {
    const { app } = await setup()
    const res = await app.inject({
      method: 'POST',
      url: '/orders/1',
      headers: validHeaders,
      payload: { items: [{ qty: 1 }, { qty: 0 }, {}], 'm~n': 'x' },
    })
    expect(res.statusCode).toBe(400)
    const body = res.json()
    expect(body).toMatchObject({
      type: 'urn:fastify-resilience:problem:validation-failed',
      title: 'Request validation failed',
      status: 400,
      instance: 'req-1',
    })
    const pointers = body.errors.map((entry: { pointer: string }) => entry.pointer).sort()
    expect(pointers).toEqual(['/a~1b', '/items/1/qty', '/items/2/qty', '/m~0n'].sort())
    expect(body.errors).toContainEqual({ location: 'body', pointer: '/items/1/qty', detail: 'must be >= 1', keyword: 'minimum' })
    expect(body.errors).toContainEqual({ location: 'body', pointer: '/items/2/qty', detail: "must have required property 'qty'", keyword: 'required' })
  })

  it.each([
    ['querystring', '/orders/1?limit=500', validHeaders, '/limit'],
    ['params', '/orders/abc', validHeaders, '/shop'],
    ['headers', '/orders/1', { 'x-tenant': 'ab' }, '/x-tenant'],
    ['headers', '/orders/1', {}, '/x-tenant'],
  ])('a %s violation points into the %s', async (location, url, headers, pointer) => {
    const { app } = await setup()
    const res = await app.inject({ method: 'POST', url, headers, payload: { items: [], 'a/b': 'x' } })
    expect(res.statusCode).toBe(400)
    expect(res.json().errors).toEqual([expect.objectContaining({ location, pointer })])
  })
})
