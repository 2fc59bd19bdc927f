import { afterEach } from 'vitest'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { once } from 'node:events'
import resilience from '../../plugins/index.js'
import type { ResilienceOptions } from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
export { freePort } from '../helpers/redis-server.js'

/** What a dependency server saw of one request. */
export interface SeenRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
  /** The caller closed the connection before the answer was sent. */
  aborted: boolean
}

export interface DependencyServer {
  url: string
  port: number
  /** Requests received, in order. */
  seen: SeenRequest[]
  /** Replaces the behaviour, e.g. when the dependency "comes back". */
  behave: (handler: Behaviour) => void
  close: () => Promise<void>
}

/** Answers one request; `call` counts from 1. */
export type Behaviour = (request: SeenRequest, response: ServerResponse, call: number) => void

/** A real HTTP server standing in for a dependency, whose behaviour the test sets and can change. */
export async function startDependency (behaviour: Behaviour): Promise<DependencyServer> {
  let current = behaviour
  const seen: SeenRequest[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => { body += chunk })
    request.on('end', () => {
      const entry: SeenRequest = { method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, body, aborted: false }
      seen.push(entry)
      response.on('close', () => { if (!response.writableFinished) entry.aborted = true })
      current(entry, response, seen.length)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new TypeError('no TCP address')
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    seen,
    behave: (handler) => { current = handler },
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

export const healthy = (body: unknown = { ok: true }): Behaviour => (_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

export const failing = (status = 500, headers: Record<string, string> = {}): Behaviour => (_request, response) => {
  response.writeHead(status, { 'content-type': 'text/plain', ...headers }).end('secret downstream stack trace')
}

/** Never answers; the connection stays open until the caller gives up. */
export const hanging: Behaviour = () => {}

export const slow = (ms: number, body: unknown = { ok: true }): Behaviour => (_request, response) => {
  const timer = setTimeout(() => { response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)) }, ms)
  response.on('close', () => { clearTimeout(timer) })
}

/** An app with problem details, deadlines and the given dependencies, and nothing else. */
export async function dependencyApp (options: ResilienceOptions = {}): Promise<TestApp> {
  const testApp = createTestApp()
  await testApp.app.register(resilience, { loadShedding: false, idempotency: false, errorBudget: false, chaos: false, ...options })
  return testApp
}

/**
 * The servers and apps one test file starts, closed after each test
 * (newest first): `serve` starts a dependency, `appWith` an app.
 */
export function closedAfterEach (): {
  serve: (behaviour: Behaviour) => Promise<DependencyServer>
  appWith: (options: Parameters<typeof dependencyApp>[0]) => Promise<TestApp>
  /** Anything else to close after the test. */
  cleanups: Array<() => Promise<void>>
} {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  return {
    cleanups,
    serve: async (behaviour) => {
      const server = await startDependency(behaviour)
      cleanups.push(server.close)
      return server
    },
    appWith: async (options) => {
      const testApp = await dependencyApp(options)
      cleanups.push(async () => { await testApp.app.close() })
      return testApp
    },
  }
}

/**
 * Node loads fetch (undici) on its first call. On a busy machine that took
 * longer than the 150 ms attempt timeouts some tests set, so a first timed
 * call could time out before its request left, and the test then waited
 * for the downstream abort of a request the dependency never received.
 * One call here loads fetch before any test of the file runs.
 */
async function loadFetch (): Promise<void> {
  const server = await startDependency(healthy())
  try {
    await (await fetch(server.url)).text()
  } finally {
    await server.close()
  }
}
await loadFetch()
