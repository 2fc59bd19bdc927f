import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import { rawExchange } from '../helpers/raw-http.js'
import type { TestApp } from '../helpers/app.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

async function setup (): Promise<TestApp> {
  current = createTestApp()
  await current.app.register(resilience, { loadShedding: false })
  return current
}

describe('not found', () => {
  it('an unknown route is a 404 problem naming the method and path without the query', async () => {
    const { app } = await setup()
    const res = await app.inject('/missing/thing?token=secret')
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'No route matches GET /missing/thing',
      instance: 'req-1',
    })
    expect(res.body).not.toContain('secret')
  })

  it('reply.callNotFound answers the same 404 problem', async () => {
    const { app } = await setup()
    app.get('/products/:id', (request, reply) => {
      if ((request.params as { id: string }).id !== '1') return reply.callNotFound()
      return { id: 1 }
    })
    const res = await app.inject('/products/2')
    expect(res.statusCode).toBe(404)
    expect(res.json().type).toBe('about:blank')
  })

  it('a HEAD request gets the problem headers and no body over a real socket', async () => {
    const { app } = await setup()
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const wire = await rawExchange(port, 'HEAD /missing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
    const [head, body] = wire.split('\r\n\r\n')
    expect(head).toMatch(/^HTTP\/1\.1 404 /)
    expect(head).toMatch(/content-type: application\/problem\+json/i)
    expect(body).toBe('')
  })

  it('notFound: false leaves the not-found handler to the application', async () => {
    current = createTestApp()
    const { app } = current
    await app.register(resilience, { loadShedding: false, problemDetails: { notFound: false } })
    app.setNotFoundHandler((_request, reply) => reply.code(404).send('custom'))
    const res = await app.inject('/missing')
    expect(res.body).toBe('custom')
  })
})
