import { afterEach, describe, expect, it } from 'vitest'
import { dependencyApp, startDependency } from './helpers.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('streamed bodies', () => {
  const readers = {
    text: async (response: Response) => await response.text(),
    json: async (response: Response) => await response.json(),
    arrayBuffer: async (response: Response) => (await response.arrayBuffer()).byteLength,
    'the body stream': async (response: Response) => {
      let bytes = 0
      for await (const chunk of response.body ?? []) bytes += (chunk as Uint8Array).byteLength
      return bytes
    },
  }
  for (const [reader, read] of Object.entries(readers)) {
    it(`a connection reset mid-body (read with ${reader}) counts as a failure and answers 502 dependency-failed`, async () => {
      const server = await startDependency((_request, response) => {
        response.writeHead(200, { 'content-length': '100000' })
        response.write('x'.repeat(1000))
        setTimeout(() => { response.destroy() }, 20)
      })
      cleanups.push(server.close)
      const { app } = await dependencyApp({ dependencies: { files: { baseUrl: server.url, breaker: { consecutiveFailures: 5, openMs: 60_000 } } } })
      cleanups.push(async () => { await app.close() })
      app.get('/', async (request) => await read(await request.dependency('files').fetch('/file')))
      for (let i = 0; i < 5; i++) {
        const response = await app.inject('/')
        expect(response.statusCode).toBe(502)
        expect(response.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:dependency-failed', dependency: 'files' })
      }
      expect(app.dependencies.stats().files).toMatchObject({ failures: 5, state: 'open' })
      expect((await app.inject('/')).statusCode).toBe(503)
      expect(server.seen).toHaveLength(5)
    })
  }

  /** An app whose dependency `files` answers `body` as JSON, with a breaker that one failure opens. */
  async function appOverJson (body: string): Promise<Awaited<ReturnType<typeof dependencyApp>>['app']> {
    const server = await startDependency((_request, response) => { response.writeHead(200, { 'content-type': 'application/json' }).end(body) })
    cleanups.push(server.close)
    const { app } = await dependencyApp({ dependencies: { files: { baseUrl: server.url, breaker: { consecutiveFailures: 1, openMs: 60_000 } } } })
    cleanups.push(async () => { await app.close() })
    return app
  }

  it('a response whose body was looked at still reads with json(), is a Response, and counts as a success', async () => {
    const app = await appOverJson('{"ok":true}')
    app.get('/', async (request) => {
      const response = await request.dependency('files').fetch('/file')
      const hasBody = response.body !== null
      return { hasBody, isResponse: response instanceof Response, body: await response.json() as unknown, used: response.bodyUsed }
    })
    expect((await app.inject('/')).json()).toEqual({ hasBody: true, isResponse: true, body: { ok: true }, used: true })
    expect(app.dependencies.stats().files).toMatchObject({ failures: 0, state: 'closed' })
  })

  it('a body that is not valid JSON is a parse error of the handler, not a failure of the dependency', async () => {
    const app = await appOverJson('{"ok":')
    app.get('/', async (request) => {
      const response = await request.dependency('files').fetch('/file')
      try {
        return await response.json()
      } catch (error) {
        return { parseError: error instanceof SyntaxError }
      }
    })
    expect((await app.inject('/')).json()).toEqual({ parseError: true })
    expect(app.dependencies.stats().files).toMatchObject({ failures: 0, state: 'closed' })
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
