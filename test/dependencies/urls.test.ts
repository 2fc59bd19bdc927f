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
