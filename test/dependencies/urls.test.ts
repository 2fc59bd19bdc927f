import { afterEach, describe, expect, it } from 'vitest'
import { dependencyApp, healthy, startDependency } from './helpers.js'
import type { DependencyServer } from './helpers.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function serve (): Promise<DependencyServer> {
  const server = await startDependency((request, response) => { healthy({ url: request.url })(request, response, 0) })
  cleanups.push(server.close)
  return server
}

/** A dependency at `<server>/api/v1`, and a handler that reports where a path went or why it was refused. */
async function setup (): Promise<{ payments: DependencyServer, other: DependencyServer, get: (path: string) => Promise<Record<string, unknown>> }> {
  const payments = await serve()
  const other = await serve()
  const { app } = await dependencyApp({ dependencies: { payments: { baseUrl: `${payments.url}/api/v1` } } })
  cleanups.push(async () => { await app.close() })
  app.get('/', async (request) => {
    try {
      return await (await request.dependency('payments').fetch((request.query as { path: string }).path)).json()
    } catch (error) {
      return { refused: (error as { code?: string }).code, isTypeError: error instanceof TypeError }
    }
  })
  const get = async (path: string): Promise<Record<string, unknown>> => (await app.inject({ url: '/', query: { path } })).json()
  return { payments, other, get }
}

describe('fetch stays under the baseUrl', () => {
  it.each([
    ['/charges', '/api/v1/charges'],
    ['charges', '/api/v1/charges'],
    ['charges/7?expand=true', '/api/v1/charges/7?expand=true'],
    ['a/../charges', '/api/v1/charges'],
  ])('%s is joined under the base path', async (path, expected) => {
    const { get } = await setup()
    expect(await get(path)).toEqual({ url: expected })
  })

  it('an absolute URL under the base is allowed', async () => {
    const { payments, get } = await setup()
    expect(await get(`${payments.url}/api/v1/charges`)).toEqual({ url: '/api/v1/charges' })
  })

  it.each([
    ['../../../admin'],
    ['%2e%2e/admin'],
    ['/%2E%2E/%2e%2e/admin'],
    ['..\\..\\admin'],
    ['//other/steal'],
    ['\\\\other\\steal'],
  ])('%s is refused before any request', async (path) => {
    const { payments, get } = await setup()
    expect(await get(path)).toEqual({ refused: 'FRS_ERR_DEPENDENCY_URL_OUTSIDE', isTypeError: true })
    expect(payments.seen).toHaveLength(0)
  })

  it('an absolute URL to another host, or outside the base path, is refused and never sent', async () => {
    const { payments, other, get } = await setup()
    expect(await get(`${other.url}/steal`)).toEqual({ refused: 'FRS_ERR_DEPENDENCY_URL_OUTSIDE', isTypeError: true })
    expect(await get(`${payments.url}/admin`)).toEqual({ refused: 'FRS_ERR_DEPENDENCY_URL_OUTSIDE', isTypeError: true })
    expect(other.seen).toHaveLength(0)
    expect(payments.seen).toHaveLength(0)
  })

  it('a refused path or option rejects the promise fetch returns, as fetch does, and never throws at the call', async () => {
    const payments = await serve()
    const { app } = await dependencyApp({ dependencies: { payments: { baseUrl: `${payments.url}/api/v1` } } })
    cleanups.push(async () => { await app.close() })
    app.get('/', async (request) => {
      const dependency = request.dependency('payments')
      const calls = [() => dependency.fetch('../admin'), () => dependency.fetch('/charges', undefined, { fallback: 42 as never })]
      const outcomes: unknown[] = []
      for (const call of calls) {
        let returned: Promise<Response>
        try {
          returned = call()
        } catch (error) {
          outcomes.push({ thrown: (error as { code?: string }).code })
          continue
        }
        outcomes.push({ rejected: await returned.then(() => 'resolved', (error: unknown) => (error as { code?: string }).code) })
      }
      return outcomes
    })
    expect((await app.inject('/')).json()).toEqual([{ rejected: 'FRS_ERR_DEPENDENCY_URL_OUTSIDE' }, { rejected: 'FRS_ERR_OPTION_INVALID' }])
    expect(payments.seen).toHaveLength(0)
  })

  it('a call option it does not know rejects the call with FRS_ERR_OPTION_UNKNOWN, naming the known ones, and nothing is sent', async () => {
    const payments = await serve()
    const { app } = await dependencyApp({ dependencies: { payments: { baseUrl: payments.url } } })
    cleanups.push(async () => { await app.close() })
    app.get('/', async (request) => {
      const dependency = request.dependency('payments')
      const calls = [
        () => dependency.fetch('/charges', undefined, { fallbak: 'last-good' } as never),
        // fetch tells a call safe to repeat by its method: an idempotent it would ignore is refused.
        () => dependency.fetch('/charges', undefined, { idempotent: true } as never),
        async () => await dependency.call(async () => 'sent', { idempotnet: true } as never),
      ]
      const outcomes: unknown[] = []
      for (const call of calls) outcomes.push(await call().then(() => 'resolved', (error: unknown) => (error as Error).message))
      return outcomes
    })
    expect((await app.inject('/')).json()).toEqual([
      "fastify-resilience: unknown option 'fallbak' in dependency('payments').fetch options; expected one of: fallback, key",
      "fastify-resilience: unknown option 'idempotent' in dependency('payments').fetch options; expected one of: fallback, key",
      "fastify-resilience: unknown option 'idempotnet' in dependency('payments').call options; expected one of: fallback, idempotent, key",
    ])
    expect(payments.seen).toHaveLength(0)
  })

  it('a refused path is not counted against the dependency', async () => {
    const payments = await serve()
    const { app } = await dependencyApp({ dependencies: { payments: { baseUrl: `${payments.url}/api/v1` } } })
    cleanups.push(async () => { await app.close() })
    app.get('/', async (request) => await request.dependency('payments').fetch('../admin'))
    const response = await app.inject('/')
    expect(response.statusCode).toBe(500)
    expect(app.dependencies.stats().payments).toMatchObject({ calls: 0, failures: 0 })
  })
})

describe('redirects stay under the baseUrl', () => {
  /**
   * A dependency at `<server>/api/v1` whose `/api/v1/moved` redirects with
   * `status` to `location` (a function of the other host's URL), and a
   * handler that reports what its fetch got.
   */
  async function redirecting (status: number, location: (otherUrl: string) => string, init: RequestInit = {}): Promise<{ payments: DependencyServer, other: DependencyServer, call: () => Promise<Record<string, unknown>> }> {
    const other = await serve()
    const payments = await startDependency((request, response) => {
      if (request.url === '/api/v1/moved') response.writeHead(status, { location: location(other.url) }).end()
      else healthy({ method: request.method, url: request.url, body: request.body, type: request.headers['content-type'] ?? null, key: request.headers['idempotency-key'], own: request.headers['x-own'] })(request, response, 0)
    })
    cleanups.push(payments.close)
    const { app } = await dependencyApp({ dependencies: { payments: { baseUrl: `${payments.url}/api/v1`, idempotencyKeys: true } } })
    cleanups.push(async () => { await app.close() })
    app.post('/', async (request) => {
      try {
        const response = await request.dependency('payments').fetch('/moved', { method: 'POST', headers: { 'content-type': 'application/json', 'x-own': 'yes' }, body: '{"amount":5}', ...init })
        return { status: response.status, location: response.headers.get('location'), redirected: response.redirected, body: response.status === 200 ? await response.json() as unknown : await response.text() }
      } catch (error) {
        return { failed: (error as { code?: string }).code }
      }
    })
    return { payments, other, call: async () => (await app.inject({ method: 'POST', url: '/' })).json() }
  }

  it.each([
    [307, (otherUrl: string) => `${otherUrl}/steal`],
    [308, (otherUrl: string) => `//${new URL(otherUrl).host}/steal`],
    [302, () => '/admin/secrets'],
    [301, () => '../../admin'],
    [303, () => '%2e%2e/admin'],
  ])('a %i to another host or outside the base path is not followed: the handler gets it as it is', async (status, location) => {
    const { payments, other, call } = await redirecting(status, location)
    const answer = await call()
    expect(answer).toEqual({ status, location: location(other.url), redirected: false, body: '' })
    expect(other.seen).toHaveLength(0)
    expect(payments.seen.map((seen) => seen.url)).toEqual(['/api/v1/moved'])
  })

  it('a 307 under the base path is followed with the same method, body and headers, the key included', async () => {
    const { payments, call } = await redirecting(307, () => '/api/v1/charges')
    const answer = await call()
    expect(answer).toMatchObject({ status: 200, redirected: true, body: { method: 'POST', url: '/api/v1/charges', body: '{"amount":5}', type: 'application/json', own: 'yes' } })
    const keys = payments.seen.map((seen) => seen.headers['idempotency-key'])
    expect(keys).toHaveLength(2)
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/)
    expect(keys[1]).toBe(keys[0])
  })

  it('a 303 under the base path is followed as a GET without the body, as fetch does', async () => {
    const { call } = await redirecting(303, () => 'charges/7')
    expect(await call()).toMatchObject({ status: 200, redirected: true, body: { method: 'GET', url: '/api/v1/charges/7', body: '', type: null, own: 'yes' } })
  })

  it("the caller's redirect: 'manual' gets the 3xx even under the base path, and 'error' fails the call", async () => {
    const manual = await redirecting(307, () => '/api/v1/charges', { redirect: 'manual' })
    expect(await manual.call()).toMatchObject({ status: 307, location: '/api/v1/charges' })
    expect(manual.payments.seen).toHaveLength(1)
    const error = await redirecting(307, () => '/api/v1/charges', { redirect: 'error' })
    expect(await error.call()).toEqual({ failed: 'FRS_ERR_DEPENDENCY_FAILED' })
    expect(error.payments.seen).toHaveLength(1)
  })
})
