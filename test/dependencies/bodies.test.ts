import { afterEach, describe, expect, it } from 'vitest'
import { dependencyApp, startDependency } from './helpers.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('streamed bodies', () => {
  it('a connection reset mid-body counts as a failure and answers 502 dependency-failed', async () => {
    const server = await startDependency((_request, response) => {
      response.writeHead(200, { 'content-length': '100000' })
      response.write('x'.repeat(1000))
      setTimeout(() => { response.destroy() }, 20)
    })
    cleanups.push(server.close)
    const { app } = await dependencyApp({ dependencies: { files: { baseUrl: server.url, breaker: { consecutiveFailures: 5, openMs: 60_000 } } } })
    cleanups.push(async () => { await app.close() })
    app.get('/', async (request) => await (await request.dependency('files').fetch('/file')).text())
    for (let i = 0; i < 5; i++) {
      const response = await app.inject('/')
      expect(response.statusCode).toBe(502)
      expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', dependency: 'files' })
    }
    expect(app.dependencies.stats().files).toMatchObject({ failures: 5, state: 'open' })
    expect((await app.inject('/')).statusCode).toBe(503)
    expect(server.seen).toHaveLength(5)
  })

  it('a body read in full is a success, and keeps the response url', async () => {
    const server = await startDependency((_request, response) => { response.writeHead(200, { 'content-type': 'text/plain' }).end('hello') })
    cleanups.push(server.close)
    const { app } = await dependencyApp({ dependencies: { files: { baseUrl: server.url } } })
    cleanups.push(async () => { await app.close() })
    app.get('/', async (request) => {
      const response = await request.dependency('files').fetch('/file')
      return { url: response.url, text: await response.text(), type: response.headers.get('content-type') }
    })
    expect((await app.inject('/')).json()).toEqual({ url: `${server.url}/file`, text: 'hello', type: 'text/plain' })
    expect(app.dependencies.stats().files).toMatchObject({ failures: 0 })
  })
})
