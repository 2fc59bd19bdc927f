import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait-for.js'
import { dependencyApp, startDependency } from './helpers.js'
import type { DependencyServer } from './helpers.js'
import type { TestApp } from '../helpers/app.js'
import type { ServerResponse } from 'node:http'
import type { FastifyRequest } from 'fastify'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A dependency that holds every answer until the test releases them. */
async function heldDependency (): Promise<{ server: DependencyServer, release: () => void }> {
  const held: ServerResponse[] = []
  const server = await startDependency((_request, response) => { held.push(response) })
  cleanups.push(server.close)
  return {
    server,
    release: () => { for (const response of held.splice(0)) response.writeHead(200, { 'content-type': 'application/json' }).end('{"price":7}') },
  }
}

async function appWith (options: Parameters<typeof dependencyApp>[0]): Promise<TestApp> {
  const testApp = await dependencyApp(options)
  cleanups.push(async () => { await testApp.app.close() })
  return testApp
}

describe('coalescing', () => {
  it('1,000 concurrent identical GETs make one call, and every caller gets the answer', async () => {
    const { server, release } = await heldDependency()
    // Joining 1,000 requests takes a while on a busy machine: a generous attempt timeout.
    const { app } = await appWith({ dependencies: { prices: { baseUrl: server.url, coalesce: true, timeoutMs: 60_000 } } })
    app.get('/', async (request) => await (await request.dependency('prices').fetch('/price/1')).json())
    const answers = Array.from({ length: 1000 }, () => app.inject('/'))
    // A call is counted as it joins the one in flight, within the same turn.
    await waitFor(() => app.dependencies.stats().prices?.calls === 1000 && server.seen.length === 1, 15_000)
    release()
    const responses = await Promise.all(answers)
    expect(responses.filter((response) => response.statusCode !== 200 || response.body !== '{"price":7}').map((response) => response.body).slice(0, 2)).toEqual([])
    expect(server.seen).toHaveLength(1)
    expect(app.dependencies.stats().prices).toMatchObject({ calls: 1000, coalesced: 999, attempts: 1 })
  })

  it('different calls are not coalesced, and neither are writes', async () => {
    const { server, release } = await heldDependency()
    const { app } = await appWith({ dependencies: { prices: { baseUrl: server.url, coalesce: true } } })
    app.get('/:id', async (request) => await (await request.dependency('prices').fetch(`/price/${(request.params as { id: string }).id}`)).json())
    app.post('/', async (request) => await (await request.dependency('prices').fetch('/price/1', { method: 'POST' })).json())
    const answers = [app.inject('/1'), app.inject('/2'), app.inject({ method: 'POST', url: '/' }), app.inject({ method: 'POST', url: '/' })]
    await waitFor(() => server.seen.length === 4)
    release()
    await Promise.all(answers)
    expect(app.dependencies.stats().prices?.coalesced).toBe(0)
  })

  it('a follower with a shorter deadline gives up alone; the shared call goes on for the others', async () => {
    const { server, release } = await heldDependency()
    const { app } = await appWith({ dependencies: { prices: { baseUrl: server.url, coalesce: true, timeoutMs: 10_000 } } })
    const handler = async (request: FastifyRequest): Promise<unknown> =>
      await (await request.dependency('prices').fetch('/price/1')).json()
    app.get('/patient', { config: { deadline: { timeoutMs: 8000 } } }, handler)
    app.get('/hurried', { config: { deadline: { timeoutMs: 200 } } }, handler)
    const patient = app.inject('/patient')
    await waitFor(() => server.seen.length === 1)
    const hurried = await app.inject('/hurried')
    expect(hurried.statusCode).toBe(504)
    expect(hurried.json()).toMatchObject({ type: 'urn:fastify-resilience:problem:deadline-exceeded' })
    expect(server.seen[0]?.aborted).toBe(false)
    release()
    expect((await patient).json()).toEqual({ price: 7 })
    expect(server.seen).toHaveLength(1)
    expect(app.dependencies.stats().prices).toMatchObject({ coalesced: 1, failures: 0 })
  })

  it('the shared call is cancelled downstream when every caller has given up', async () => {
    const { server } = await heldDependency()
    const { app } = await appWith({ dependencies: { prices: { baseUrl: server.url, coalesce: true, timeoutMs: 10_000 } } })
    app.get('/', { config: { deadline: { timeoutMs: 200 } } }, async (request) => await (await request.dependency('prices').fetch('/price/1')).json())
    await Promise.all([app.inject('/'), app.inject('/')])
    await waitFor(() => server.seen[0]?.aborted === true)
    expect(app.dependencies.stats().prices).toMatchObject({ failures: 0, coalesced: 1 })
  })

  it('the shared call waits for the longest deadline among its callers, not the first caller\'s', async () => {
    const { server, release } = await heldDependency()
    const { app } = await appWith({ dependencies: { prices: { baseUrl: server.url, coalesce: true, timeoutMs: 10_000 } } })
    const handler = async (request: FastifyRequest): Promise<unknown> =>
      await (await request.dependency('prices').fetch('/price/1')).json()
    app.get('/hurried', { config: { deadline: { timeoutMs: 150 } } }, handler)
    app.get('/patient', { config: { deadline: { timeoutMs: 8000 } } }, handler)
    const hurried = app.inject('/hurried')
    await waitFor(() => server.seen.length === 1)
    const patient = app.inject('/patient')
    await waitFor(() => app.dependencies.stats().prices?.calls === 2)
    expect((await hurried).statusCode).toBe(504)
    // Well past the first caller's deadline and its backstop.
    await new Promise((resolve) => setTimeout(resolve, 800))
    release()
    const answer = await patient
    expect(answer.statusCode).toBe(200)
    expect(answer.json()).toEqual({ price: 7 })
    expect(app.dependencies.stats().prices).toMatchObject({ attempts: 1, failures: 0, timeouts: 0 })
  })

  it('callers of a shared answer share its bytes instead of a copy each', async () => {
    const size = 4 << 20
    const server = await startDependency((_request, response) => {
      setTimeout(() => { response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(size, 98)) }, 300)
    })
    cleanups.push(server.close)
    const { app } = await appWith({ dependencies: { blobs: { baseUrl: server.url, coalesce: true, maxBodyBytes: 8 << 20, timeoutMs: 30_000 } } })
    const callers = 100
    let holding = 0
    let releaseAll: () => void = () => {}
    const allHolding = new Promise<void>((resolve) => { releaseAll = resolve })
    let peak = 0
    app.get('/', async (request) => {
      const response = await request.dependency('blobs').fetch('/blob')
      // Every caller holds its Response before any reads it.
      if (++holding === callers) {
        peak = process.memoryUsage().arrayBuffers
        releaseAll()
      }
      await allHolding
      return { length: (await response.arrayBuffer()).byteLength }
    })
    const before = process.memoryUsage().arrayBuffers
    const answers = await Promise.all(Array.from({ length: callers }, () => app.inject('/')))
    expect(answers.every((answer) => answer.json<{ length: number }>().length === size)).toBe(true)
    expect(server.seen).toHaveLength(1)
    // A copy each would be 400 MiB; one shared body is 4 MiB.
    expect(peak - before).toBeLessThan(100 << 20)
  })

  it('an answer over maxBodyBytes is not shared: each caller makes its own call', async () => {
    const size = 2 << 20
    const server = await startDependency((_request, response) => {
      setTimeout(() => { response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(size, 97)) }, 200)
    })
    cleanups.push(server.close)
    const { app } = await appWith({ dependencies: { blobs: { baseUrl: server.url, coalesce: true, timeoutMs: 30_000 } } })
    app.get('/', async (request) => ({ length: (await (await request.dependency('blobs').fetch('/blob')).arrayBuffer()).byteLength }))
    const answers = await Promise.all([app.inject('/'), app.inject('/'), app.inject('/')])
    expect(answers.map((answer) => answer.json<{ length: number }>().length)).toEqual([size, size, size])
    expect(server.seen).toHaveLength(3)
    // None was answered by another's call.
    expect(app.dependencies.stats().blobs).toMatchObject({ calls: 3, coalesced: 0 })
  })
})
