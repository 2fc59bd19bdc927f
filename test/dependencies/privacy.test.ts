import { afterEach, describe, expect, it } from 'vitest'
import type { ServerResponse } from 'node:http'
import { waitFor } from '../helpers/wait-for.js'
import { dependencyApp, startDependency } from './helpers.js'
import type { DependencyServer } from './helpers.js'
import type { TestApp } from '../helpers/app.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Answers `/me` with the caller's credentials once the test releases it. */
async function profiles (): Promise<{ server: DependencyServer, release: () => void }> {
  const held: Array<{ response: ServerResponse, who: string }> = []
  const server = await startDependency((request, response) => {
    held.push({ response, who: String(request.headers.authorization ?? request.headers.cookie ?? request.headers['x-api-key'] ?? 'nobody') })
  })
  cleanups.push(server.close)
  return {
    server,
    release: () => { for (const { response, who } of held.splice(0)) response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ me: who })) },
  }
}

async function appWith (options: Parameters<typeof dependencyApp>[0]): Promise<TestApp> {
  const testApp = await dependencyApp(options)
  cleanups.push(async () => { await testApp.app.close() })
  return testApp
}

describe('per-user calls are never shared', () => {
  it('concurrent calls with different Authorization are not coalesced; the same credentials are', async () => {
    const { server, release } = await profiles()
    const { app } = await appWith({ dependencies: { profiles: { baseUrl: server.url, coalesce: true } } })
    app.get('/me', async (request) => await (await request.dependency('profiles').fetch('/me', { headers: { authorization: String(request.headers.authorization) } })).json())
    const alice = app.inject({ url: '/me', headers: { authorization: 'Bearer alice' } })
    const bob = app.inject({ url: '/me', headers: { authorization: 'Bearer bob' } })
    const aliceAgain = app.inject({ url: '/me', headers: { authorization: 'Bearer alice' } })
    await waitFor(() => server.seen.length === 2 && app.dependencies.stats().profiles?.calls === 3)
    release()
    expect((await alice).json()).toEqual({ me: 'Bearer alice' })
    expect((await bob).json()).toEqual({ me: 'Bearer bob' })
    expect((await aliceAgain).json()).toEqual({ me: 'Bearer alice' })
    expect(server.seen).toHaveLength(2)
    expect(app.dependencies.stats().profiles?.coalesced).toBe(1)
  })

  it('cookies and the configured credential headers separate calls too', async () => {
    const { server, release } = await profiles()
    const { app } = await appWith({ dependencies: { profiles: { baseUrl: server.url, coalesce: true, credentialHeaders: ['X-Api-Key'] } } })
    app.get('/cookie', async (request) => await (await request.dependency('profiles').fetch('/me', { headers: [['cookie', String(request.headers['x-who'])]] })).json())
    app.get('/key', async (request) => {
      const headers = new Headers({ 'x-api-key': String(request.headers['x-who']) })
      return await (await request.dependency('profiles').fetch('/me', { headers })).json()
    })
    const answers = [
      app.inject({ url: '/cookie', headers: { 'x-who': 'sid=a' } }),
      app.inject({ url: '/cookie', headers: { 'x-who': 'sid=b' } }),
      app.inject({ url: '/key', headers: { 'x-who': 'key-a' } }),
      app.inject({ url: '/key', headers: { 'x-who': 'key-b' } }),
    ]
    await waitFor(() => server.seen.length === 4)
    release()
    expect((await Promise.all(answers)).map((answer) => answer.json<{ me: string }>().me)).toEqual(['sid=a', 'sid=b', 'key-a', 'key-b'])
    expect(app.dependencies.stats().profiles?.coalesced).toBe(0)
  })

  it('calls that ask for different representations (Accept, Accept-Language) are not coalesced; the same ones are', async () => {
    const held: Array<{ response: ServerResponse, asked: string }> = []
    const server = await startDependency((request, response) => {
      held.push({ response, asked: `${String(request.headers.accept)} ${String(request.headers['accept-language'])}` })
    })
    cleanups.push(server.close)
    const { app } = await appWith({ dependencies: { reports: { baseUrl: server.url, coalesce: true } } })
    app.get('/report', async (request) => {
      const headers = { accept: String(request.headers['x-accept']), 'accept-language': String(request.headers['x-language']) }
      return await (await request.dependency('reports').fetch('/report', { headers })).json()
    })
    const ask = async (accept: string, language: string): Promise<{ json: <T>() => T }> => await app.inject({ url: '/report', headers: { 'x-accept': accept, 'x-language': language } })
    const answers = [ask('application/json', 'en'), ask('text/csv', 'en'), ask('application/json', 'fr'), ask('application/json', 'en')]
    await waitFor(() => held.length === 3 && app.dependencies.stats().reports?.calls === 4)
    for (const { response, asked } of held.splice(0)) response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ asked }))
    expect((await Promise.all(answers)).map((answer) => answer.json<{ asked: string }>().asked)).toEqual(['application/json en', 'text/csv en', 'application/json fr', 'application/json en'])
    expect(app.dependencies.stats().reports?.coalesced).toBe(1)
  })

  it("last-good never answers one user with another's answer", async () => {
    const server = await startDependency((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ me: request.headers.authorization }))
    })
    cleanups.push(server.close)
    const { app } = await appWith({ dependencies: { profiles: { baseUrl: server.url, fallback: 'last-good' } } })
    app.get('/me', async (request) => await (await request.dependency('profiles').fetch('/me', { headers: { authorization: String(request.headers.authorization) } })).json())
    expect((await app.inject({ url: '/me', headers: { authorization: 'Bearer alice' } })).json()).toEqual({ me: 'Bearer alice' })
    server.behave((_request, response) => { response.writeHead(500).end('down') })
    const carol = await app.inject({ url: '/me', headers: { authorization: 'Bearer carol' } })
    expect(carol.statusCode).toBe(502)
    expect(carol.body).not.toContain('alice')
    // Alice's own last good answer still serves her.
    expect((await app.inject({ url: '/me', headers: { authorization: 'Bearer alice' } })).json()).toEqual({ me: 'Bearer alice' })
  })

  it('a call without a key has no last good answer; with a key it has one', async () => {
    const server = await startDependency((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ me: request.headers.authorization }))
    })
    cleanups.push(server.close)
    const { app } = await appWith({ dependencies: { profiles: { baseUrl: server.url, fallback: 'last-good' } } })
    app.get('/me', async (request) => {
      const authorization = String(request.headers.authorization)
      const key = request.headers['x-key'] === undefined ? {} : { key: `me ${authorization}` }
      return await request.dependency('profiles').call(async (signal) => {
        const response = await fetch(`${server.url}/me`, { signal, headers: { authorization } })
        if (!response.ok) throw Object.assign(new Error('profiles failed'), { status: response.status })
        return await response.json() as unknown
      }, key)
    })
    expect((await app.inject({ url: '/me', headers: { authorization: 'Bearer alice' } })).json()).toEqual({ me: 'Bearer alice' })
    expect((await app.inject({ url: '/me', headers: { authorization: 'Bearer alice', 'x-key': '1' } })).json()).toEqual({ me: 'Bearer alice' })
    server.behave((_request, response) => { response.writeHead(500).end('down') })
    const carol = await app.inject({ url: '/me', headers: { authorization: 'Bearer carol' } })
    expect(carol.statusCode).toBe(502)
    expect(carol.body).not.toContain('alice')
    expect((await app.inject({ url: '/me', headers: { authorization: 'Bearer alice', 'x-key': '1' } })).json()).toEqual({ me: 'Bearer alice' })
  })
})
