import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import type { ClientHttp2Session } from 'node:http2'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { ResilienceOptions } from '../../plugins/index.js'
import { deferred } from '../helpers/deferred.js'
import { connectTo, endOf } from '../helpers/http2.js'
import { waitFor } from '../helpers/wait-for.js'

/*
 * Graceful shutdown of an HTTP/2 server, through node:http2's client.
 * HTTP/2 has no `Connection: close` and its server no
 * closeAllConnections(): a session its client keeps open must get a
 * GOAWAY, and at the shutdown timeout its connection must be cut, or
 * close() never ends.
 */

const apps: FastifyInstance[] = []
const sessions: ClientHttp2Session[] = []
afterEach(async () => {
  for (const session of sessions.splice(0)) session.destroy()
  await Promise.all(apps.splice(0).map(async (app) => { await app.close() }))
})

async function startApp (options: ResilienceOptions, setup: (app: FastifyInstance) => void, server: { pluginTimeout?: number } = {}): Promise<ClientHttp2Session> {
  const app = Fastify({ http2: true, return503OnClosing: false, ...server }) as unknown as FastifyInstance
  apps.push(app)
  await app.register(resilience, { loadShedding: false, ...options })
  app.get('/fast', async () => ({ fast: true }))
  setup(app)
  const session = await connectTo(app)
  session.on('error', () => {})
  sessions.push(session)
  return session
}

/** Node's warnings while `run` runs: a `connection` header on an HTTP/2 answer is one. */
async function warningsDuring (run: () => Promise<void>): Promise<string[]> {
  const warnings: string[] = []
  const listener = (warning: Error): void => { warnings.push(`${warning.name}: ${warning.message}`) }
  process.on('warning', listener)
  try {
    await run()
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.removeListener('warning', listener)
  }
  return warnings
}

describe('graceful shutdown over HTTP/2', () => {
  it('a session its client keeps open gets a GOAWAY, and close() ends long before the shutdown timeout', async () => {
    const session = await startApp({ health: { shutdown: { graceMs: 0, timeoutMs: 60_000 } } }, () => {})
    expect(await endOf(session, '/fast')).toMatchObject({ status: 200, ended: true })
    const goaway = once(session, 'goaway')
    const app = apps[0] as FastifyInstance
    // Without the GOAWAY the open session holds close() for the whole minute, past the test's timeout.
    await app.close()
    await goaway
    await waitFor(() => session.closed)
  })

  it('an answer during the shutdown carries no Connection header (Node would warn and drop it); its session gets a GOAWAY instead, and the stream under way still finishes', async () => {
    const release = deferred()
    const started = deferred()
    const session = await startApp({ health: { shutdown: { graceMs: 0, timeoutMs: 60_000 } } }, (app) => {
      app.get('/slow', async () => {
        started.resolve()
        await release.promise
        return { done: true }
      })
    })
    const app = apps[0] as FastifyInstance
    const slow = endOf(session, '/slow')
    await started.promise
    const goaway = once(session, 'goaway')
    let closed: Promise<void> | undefined
    const warnings = await warningsDuring(async () => {
      closed = app.close()
      await waitFor(() => app.health.phase === 'closing')
      const refused = await new Promise<{ status: unknown, connection: unknown }>((resolve, reject) => {
        const stream = session.request({ ':path': '/fast' })
        stream.on('response', (headers) => { resolve({ status: headers[':status'], connection: headers.connection }) })
        stream.on('error', reject)
        stream.resume()
      })
      expect(refused).toEqual({ status: 503, connection: undefined })
    })
    expect(warnings).toEqual([])
    await goaway
    release.resolve()
    expect(await slow).toMatchObject({ status: 200, body: JSON.stringify({ done: true }), ended: true })
    await closed
  })

  // Within the preClose hook, or, when Fastify's pluginTimeout (400 ms)
  // leaves the hook less than the 1 s timeout, from a timer after it.
  it.each([
    ['within the shutdown hook', 300, {}],
    ["past Fastify's pluginTimeout", 1000, { pluginTimeout: 400 }],
  ] as const)('a request still running at the shutdown timeout is cut off (%s), and close() ends without an error', async (_case, timeoutMs, server) => {
    const started = deferred()
    const session = await startApp({ health: { shutdown: { graceMs: 0, timeoutMs } } }, (app) => {
      app.get('/hang', async () => {
        started.resolve()
        await new Promise(() => {})
      })
    }, server)
    const hung = endOf(session, '/hang')
    await started.promise
    await (apps[0] as FastifyInstance).close()
    expect(await hung).toMatchObject({ status: undefined, body: '' })
  })
})
