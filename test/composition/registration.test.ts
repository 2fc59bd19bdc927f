import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience, { deadlines, errors, idempotency, problemDetails, statusPage } from '../../plugins/index.js'

/*
 * A capability registered twice in one context is refused at startup with
 * an error that names it, whether it comes with the umbrella or alone; in
 * sibling contexts each may have its own.
 */

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map(async (app) => { await app.close() }))
})

function newApp (): FastifyInstance {
  const app = Fastify()
  apps.push(app)
  return app
}

describe('registering a capability twice', () => {
  it('the umbrella twice is refused, naming the first capability met again', async () => {
    const app = newApp()
    await app.register(resilience)
    await expect(app.register(resilience)).rejects.toThrow(errors.FRS_ERR_PLUGIN_REGISTERED_TWICE)
    await expect(newApp().register(resilience).register(resilience).ready()).rejects.toThrow(/fastify-resilience\/problem-details is already registered/)
  })

  it('a capability registered again beside the umbrella, or in a context inside the umbrella\'s, is refused', async () => {
    const beside = newApp()
    await beside.register(resilience)
    await expect(beside.register(deadlines)).rejects.toThrow(/fastify-resilience\/deadlines is already registered/)
    const inside = newApp()
    await inside.register(resilience)
    inside.register(async (child) => { await child.register(resilience) })
    await expect(inside.ready()).rejects.toThrow(errors.FRS_ERR_PLUGIN_REGISTERED_TWICE)
  })

  it('idempotency twice, which decorates nothing for Fastify to refuse, is refused too', async () => {
    const app = newApp()
    await app.register(problemDetails)
    await app.register(idempotency, { unscoped: true })
    await expect(app.register(idempotency, { unscoped: true })).rejects.toThrow(/fastify-resilience\/idempotency is already registered/)
  })

  it('the status page, which adds only routes under its path, may be mounted twice', async () => {
    const app = newApp()
    await app.register(resilience, { statusPage: { authorize: () => true } })
    await app.register(async (admin) => { await admin.register(statusPage, { authorize: () => true }) }, { prefix: '/admin' })
    expect((await app.inject('/resilience')).statusCode).toBe(200)
    expect((await app.inject('/admin/resilience')).statusCode).toBe(200)
  })

  it('sibling contexts each have their own umbrella, and each answers', async () => {
    const app = newApp()
    for (const prefix of ['/v1', '/v2']) {
      await app.register(async (child) => {
        await child.register(resilience)
        child.get('/hello', async () => ({ prefix }))
      }, { prefix })
    }
    expect((await app.inject('/v1/hello')).json()).toEqual({ prefix: '/v1' })
    expect((await app.inject('/v2/hello')).json()).toEqual({ prefix: '/v2' })
    expect((await app.inject('/v2/nothing-here')).headers['content-type']).toMatch(/^application\/problem\+json/)
  })
})
