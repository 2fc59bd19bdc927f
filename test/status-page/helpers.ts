import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { resilience } from '../../plugins/index.js'
import type { StatusPageOptions } from '../../plugins/index.js'
import type { FastifyRequest } from 'fastify'
import { deferred } from '../helpers/deferred.js'

/** The cookie a test browser (or request) carries to be let in. */
export const OPS_COOKIE = { name: 'role', value: 'ops' }

export function isOps (request: FastifyRequest): boolean {
  return (request.headers.cookie ?? '').split(';').some((part) => part.trim() === `${OPS_COOKIE.name}=${OPS_COOKIE.value}`)
}

export interface StatusApp {
  app: FastifyInstance
  /** Releases the requests held by GET /hold. */
  release: () => void
}

/**
 * An app with every capability: a fixed concurrency limit of 2 and no
 * queue (a third request held at once is shed), an SLO on GET /flaky
 * (which fails), chaos with an experiment on GET /chaotic, and the status
 * page at /resilience for callers with the ops cookie.
 */
export async function buildStatusApp (options: { sloName?: string, statusPage?: Partial<StatusPageOptions<FastifyRequest>> } = {}): Promise<StatusApp> {
  const app = Fastify()
  let held = deferred()
  await app.register(resilience, {
    loadShedding: { limit: 2, maxQueue: 0, criticalReserve: 0, pressure: false, loopLag: false },
    errorBudget: { minEvents: 5 },
    // The burning SLO of one test must not stop the chaos of the next.
    chaos: { enabled: true, seed: 1, stopOnBudget: false },
    statusPage: { authorize: isOps, ...options.statusPage },
  })
  app.get('/hold', async () => {
    await held.promise
    return { held: true }
  })
  app.get('/flaky', { config: { slo: { name: options.sloName ?? 'checkout', availability: 0.99 } } }, async (_request, reply) => reply.code(500).send({ failed: true }))
  app.get('/chaotic', async () => ({ ok: true }))
  return {
    app,
    release: () => {
      held.resolve()
      held = deferred()
    },
  }
}

/**
 * An app whose umbrella (chaos on, status page for the ops cookie) is
 * registered in a context with `prefix`, as docs/configuration.md shows;
 * `scope` is that context, where `chaos` is decorated.
 */
export async function buildPrefixedStatusApp (prefix: string): Promise<{ app: FastifyInstance, scope: FastifyInstance }> {
  // After an aborted stream, Node's fetch may open a socket it never sends a
  // request on; Node's server would wait for it until its headers timeout.
  const app = Fastify({ forceCloseConnections: true })
  let scope: FastifyInstance | undefined
  await app.register(async (prefixed) => {
    await prefixed.register(resilience, { chaos: { enabled: true, seed: 1, stopOnBudget: false }, statusPage: { authorize: isOps } })
    scope = prefixed
  }, { prefix })
  if (scope === undefined) throw new Error('the prefixed context was not registered')
  return { app, scope }
}

/** The experiment the browser tests kill. */
export const GAME_DAY = {
  name: 'game-day',
  durationMs: 600_000,
  faults: [{ type: 'error' as const, rate: 1, status: 503, match: { path: '/chaotic' } }],
}

/** Reads a stream's events over a real socket until `until` holds; then aborts it. */
export async function readEvents (url: string, headers: Record<string, string>, until: (events: Array<{ event: string, data: string }>) => boolean): Promise<{ status: number, type: string | null, events: Array<{ event: string, data: string }>, raw: string }> {
  const abort = new AbortController()
  const response = await fetch(url, { headers, signal: abort.signal })
  const events: Array<{ event: string, data: string }> = []
  let raw = ''
  if (response.body === null || response.status !== 200) return { status: response.status, type: response.headers.get('content-type'), events, raw: await response.text() }
  const decoder = new TextDecoder()
  try {
    for await (const chunk of response.body) {
      raw += decoder.decode(chunk as Uint8Array, { stream: true })
      events.length = 0
      for (const block of raw.split('\n\n')) {
        const event = /^event: (.*)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (event !== undefined && data !== undefined) events.push({ event, data })
      }
      if (until(events)) break
    }
  } finally {
    abort.abort()
  }
  return { status: response.status, type: response.headers.get('content-type'), events, raw }
}
