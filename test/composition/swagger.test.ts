import swagger from '@fastify/swagger'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'

/*
 * The library's operator routes next to @fastify/swagger, registered
 * first as its docs suggest: the API document lists the application's
 * routes, not the scrape route, the SLO status route or the status page
 * with its kill switch.
 */

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close() })

describe('@fastify/swagger registered before the library', () => {
  it('leaves the operator routes out of the OpenAPI document, and the operator routes still answer', async () => {
    app = Fastify()
    await app.register(swagger, { openapi: { info: { title: 'shop', version: '1' } } })
    await app.register(resilience, {
      errorBudget: { objectives: [{ name: 'api', availability: 0.99 }], statusRoute: true },
      metrics: { path: '/metrics' },
      statusPage: { authorize: () => true },
    })
    app.post('/orders', async () => ({ ok: true }))
    await app.ready()
    expect(Object.keys(app.swagger().paths ?? {})).toEqual(['/orders'])
    expect((await app.inject('/metrics')).statusCode).toBe(200)
    expect((await app.inject('/slo')).statusCode).toBe(200)
    expect((await app.inject('/resilience')).statusCode).toBe(200)
  })
})
