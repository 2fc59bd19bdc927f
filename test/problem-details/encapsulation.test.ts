import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { FastifyInstance } from 'fastify'

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close() })

describe('encapsulation', () => {
  it('registered under a prefix, it serves that context and leaves its siblings alone', async () => {
    app = Fastify()
    await app.register(async (v1) => {
      await v1.register(resilience, { loadShedding: false, problemDetails: { typeBase: 'https://errors.example.com/v1/' } })
      v1.get('/boom', async () => { throw Object.assign(new Error('teapot'), { statusCode: 418 }) })
      v1.get('/typed', (_request, reply) => reply.problem({ type: 'validation-failed' }))
    }, { prefix: '/v1' })
    app.get('/legacy', async () => { throw Object.assign(new Error('old style'), { statusCode: 418 }) })

    const inside = await app.inject('/v1/boom')
    expect(inside.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(inside.json()).toMatchObject({ type: 'about:blank', status: 418, detail: 'teapot' })

    const typed = await app.inject('/v1/typed')
    expect(typed.json().type).toBe('https://errors.example.com/v1/validation-failed')

    const missingInside = await app.inject('/v1/nothing')
    expect(missingInside.statusCode).toBe(404)
    expect(missingInside.headers['content-type']).toMatch(/^application\/problem\+json/)

    const outside = await app.inject('/legacy')
    expect(outside.headers['content-type']).toMatch(/^application\/json/)
    expect(outside.json()).toMatchObject({ statusCode: 418, message: 'old style' })

    const missingOutside = await app.inject('/nothing')
    expect(missingOutside.headers['content-type']).toMatch(/^application\/json/)
  })

  it('two sibling contexts may use different type bases', async () => {
    app = Fastify()
    for (const name of ['a', 'b']) {
      await app.register(async (child) => {
        await child.register(resilience, { loadShedding: false, problemDetails: { typeBase: `https://errors.example.com/${name}/` } })
        child.get('/typed', (_request, reply) => reply.problem({ type: 'validation-failed' }))
      }, { prefix: `/${name}` })
    }
    expect((await app.inject('/a/typed')).json().type).toBe('https://errors.example.com/a/validation-failed')
    expect((await app.inject('/b/typed')).json().type).toBe('https://errors.example.com/b/validation-failed')
  })

  it('a child context may register its own problem types through app.problemTypes', async () => {
    app = Fastify()
    await app.register(resilience, { loadShedding: false })
    await app.register(async (child) => {
      child.problemTypes.register('card-declined', { title: 'Card declined', status: 402 })
      child.get('/pay', (_request, reply) => reply.problem({ type: 'card-declined' }))
    })
    const res = await app.inject('/pay')
    expect(res.statusCode).toBe(402)
    expect(res.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:card-declined', title: 'Card declined' })
  })
})
