import fp from 'fastify-plugin'
import { PassThrough } from 'node:stream'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import {
  CSRF_HEADER,
  CsrfTokens,
  PAGE_CSP,
  SampleHistory,
  assembleSnapshot,
  isSameOrigin,
  loadAssets,
  renderPage,
  resolveStatusPageOptions,
  sampleOf,
  sseMessage,
  sseRetry,
} from '../src/status-page/index.js'
import type { SloReading, StatusPageOptions as StatusPageOptionsOf, StatusReadings, StatusSnapshot } from '../src/status-page/index.js'
import { libraryRouteConfig, operatorRouteOptions } from './library-route.js'
import { authorized } from './authorized.js'
import { metricsHubOf } from './metrics-hub.js'
import type {} from './deadlines.js'

/** The fleet store is read at most this often: instances add their counts to it every few seconds anyway. */
const FLEET_READ_MS = 5000
/** How long a browser waits before reconnecting the stream. */
const RECONNECT_MS = 1000
/** A client that has not read this much of the stream is too slow to follow it and is dropped. */
const MAX_BUFFERED_BYTES = 1_000_000

/** Headers of the page's answers: never cached, never framed, never sniffed, no referrer leaves. */
function secure (reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
}

/**
 * Where Fastify mounts a route of `path` in a context of `prefix`, joined
 * as its router does: '/v1/' and '/resilience' make '/v1/resilience'.
 */
function mountedPath (prefix: string, path: string): string {
  return prefix.endsWith('/') ? `${prefix}${path.slice(1)}` : `${prefix}${path}`
}

/** Reads every registered capability's state; what is not registered reads as undefined. */
function createReader (app: FastifyInstance): () => Promise<StatusReadings> {
  let fleet: { at: number, reading: SloReading } | undefined
  async function readSlos (now: number): Promise<SloReading | undefined> {
    if (!app.hasDecorator('errorBudget')) return undefined
    const budget = app.errorBudget
    if (!budget.fleetConfigured) return { scope: 'local', reason: 'no-fleet-store', slos: budget.status() }
    if (fleet !== undefined && now - fleet.at < FLEET_READ_MS) return fleet.reading
    const status = await budget.fleetStatus()
    // The store's error message may name its address: the page says only that it failed.
    const reading: SloReading = status.scope === 'fleet' ? { scope: 'fleet', slos: status.slos } : { scope: 'local', reason: 'fleet-store-unavailable', slos: status.slos }
    fleet = { at: now, reading }
    return reading
  }
  return async () => {
    const now = Date.now()
    const hub = metricsHubOf(app)
    const capabilities = hub?.capabilities() ?? []
    return {
      now,
      slos: await readSlos(now),
      shedding: app.hasDecorator('loadShedding') ? app.loadShedding.stats() : undefined,
      // Deadline and idempotency outcomes are counted only for the metrics: read them there.
      deadlines: hub !== undefined && capabilities.includes('deadlines')
        ? hub.values('deadline_requests_total').map(({ labels, value }) => ({ route: labels.route ?? '', outcome: labels.outcome ?? '', value }))
        : undefined,
      idempotency: hub !== undefined && capabilities.includes('idempotency')
        ? {
            outcomes: hub.values('idempotency_requests_total').map(({ labels, value }) => ({ route: labels.route ?? '', outcome: labels.outcome ?? '', value })),
            storeErrors: hub.values('idempotency_store_errors_total').reduce((sum, { value }) => sum + value, 0),
          }
        : undefined,
      chaos: app.hasDecorator('chaos') ? app.chaos.stats() : undefined,
      dependencies: app.hasDecorator('dependencies') ? app.dependencies.stats() : undefined,
      phase: app.hasDecorator('health') ? app.health.phase : undefined,
    }
  }
}

/**
 * A live status page: error budgets, load shedding, deadlines, idempotency,
 * chaos (with its kill switch) and breakers, updated every `intervalMs`
 * over Server-Sent Events. Its routes are library routes (never shed,
 * faulted or counted), and every one of them but the static assets asks
 * `authorize(request)` first.
 */
const statusPagePlugin: FastifyPluginAsync<StatusPageOptions> = async function statusPage (app, options) {
  const settings = resolveStatusPageOptions<FastifyRequest>(options)
  const { path } = settings
  // The routes are added with `path` and Fastify prefixes them; the page's links and cookie need where they end up.
  const base = mountedPath(app.prefix, path)
  const tokens = new CsrfTokens(settings.csrfSecret)
  const assets = await loadAssets()
  const history = new SampleHistory(Math.ceil(settings.historyMs / settings.intervalMs))
  const read = createReader(app)
  const streams = new Set<PassThrough>()
  let latest: StatusSnapshot | undefined

  const allowed = async (request: FastifyRequest): Promise<boolean> => await authorized(request, settings.authorize, 'statusPage.authorize')
  const refuse = (reply: FastifyReply, detail: string): FastifyReply => {
    reply.request.log.info({ url: reply.request.routeOptions.url }, 'status page: access refused')
    return secure(reply).problem({ status: 403, detail })
  }

  /** The browser's CSRF nonce, set in a cookie when it has none yet; answers the token for it. */
  const tokenFor = (request: FastifyRequest, reply: FastifyReply): string => {
    let nonce = tokens.nonceFrom(request.headers.cookie)
    if (nonce === undefined) {
      nonce = tokens.newNonce()
      reply.header('set-cookie', tokens.cookie(nonce, base, request.protocol === 'https'))
    }
    return tokens.tokenFor(nonce)
  }

  const broadcast = (message: string): void => {
    for (const stream of streams) {
      if (stream.writableLength > MAX_BUFFERED_BYTES) {
        stream.destroy()
        continue
      }
      stream.write(message)
    }
  }

  let ticking = false
  const tick = async (): Promise<void> => {
    // A slow fleet store must not pile readings up.
    if (ticking) return
    ticking = true
    try {
      const snapshot = assembleSnapshot(await read())
      const sample = sampleOf(snapshot, latest)
      history.push(sample)
      latest = snapshot
      if (streams.size > 0) broadcast(sseMessage('snapshot', { snapshot, sample }))
    } catch (error) {
      app.log.warn({ err: error }, 'status page: the status could not be read')
    } finally {
      ticking = false
    }
  }

  app.get(path, operatorRouteOptions(), async (request, reply) => {
    if (!(await allowed(request))) return refuse(reply, 'This client may not see the status page.')
    const csrfToken = tokenFor(request, reply)
    return secure(reply)
      .header('content-security-policy', PAGE_CSP)
      .type('text/html; charset=utf-8')
      .send(renderPage({ path: base, csrfToken, assetVersion: assets.version }))
  })

  // No deadline: the stream stays open as long as the page does.
  app.get(`${path}/events`, operatorRouteOptions({ ...libraryRouteConfig(), deadline: false }), async (request, reply) => {
    if (!(await allowed(request))) return refuse(reply, 'This client may not read the status stream.')
    const stream = new PassThrough()
    streams.add(stream)
    const forget = (): void => {
      streams.delete(stream)
      stream.destroy()
    }
    reply.raw.once('close', forget)
    stream.once('close', () => streams.delete(stream))
    // A new token on every connection: after a restart with a new key, the page's actions work again.
    const token = tokenFor(request, reply)
    stream.write(sseRetry(RECONNECT_MS))
    stream.write(sseMessage('init', { token, intervalMs: settings.intervalMs, historyMs: settings.historyMs, history: history.columns(), snapshot: latest ?? null }))
    return secure(reply)
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('x-accel-buffering', 'no')
      .send(stream)
  })

  app.post(`${path}/actions/kill-chaos`, operatorRouteOptions(), async (request, reply) => {
    if (!(await allowed(request))) return refuse(reply, 'This client may not use the status page\'s actions.')
    // request.host and request.protocol follow X-Forwarded-* under Fastify's trustProxy.
    const origin = { origin: request.headers.origin, 'sec-fetch-site': request.headers['sec-fetch-site'] as string | undefined, host: request.host }
    if (!isSameOrigin(origin, request.protocol)) {
      return refuse(reply, 'Actions are accepted from the status page\'s own origin only.')
    }
    if (!tokens.verify(tokens.nonceFrom(request.headers.cookie), request.headers[CSRF_HEADER])) {
      return refuse(reply, `The ${CSRF_HEADER} header does not match this browser's token; reload the page.`)
    }
    if (!app.hasDecorator('chaos')) return secure(reply).problem({ status: 404, detail: 'Chaos is not registered on this server.' })
    // The experiments go too: an enable() later must not bring them back by surprise.
    app.chaos.kill('killed from the status page')
    for (const experiment of app.chaos.stats().experiments) app.chaos.stop(experiment.name)
    await tick()
    return secure(reply).send({ killed: true })
  })

  app.get<{ Params: { name: string } }>(`${path}/assets/:name`, operatorRouteOptions(), async (request, reply) => {
    const asset = assets.files.get(request.params.name)
    if (asset === undefined) return reply.problem({ status: 404, detail: 'There is no such asset.' })
    reply
      .header('cache-control', 'no-cache')
      .header('etag', asset.etag)
      .header('x-content-type-options', 'nosniff')
      .header('cross-origin-resource-policy', 'same-origin')
    if (request.headers['if-none-match'] === asset.etag) return await reply.code(304).send()
    return await reply.type(asset.type).send(asset.body)
  })

  let timer: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    await tick()
    timer = setInterval(() => { tick().catch(() => {}) }, settings.intervalMs)
    timer.unref()
  })
  // Open streams would hold the server's close: end them, and browsers reconnect to the next instance.
  app.addHook('preClose', async () => {
    clearInterval(timer)
    for (const stream of streams) stream.end()
    streams.clear()
  })
  app.addHook('onClose', async () => { clearInterval(timer) })
}

/** The live status page as a Fastify plugin; register it after the capabilities it shows. Needs {@link problemDetails}. */
export const statusPage = fp(statusPagePlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/status-page',
  dependencies: ['fastify-resilience/problem-details'],
})

/** Options of the `statusPage` plugin; `authorize` receives Fastify's request. */
export type StatusPageOptions<Request = FastifyRequest> = StatusPageOptionsOf<Request>
export type { StatusSnapshot }
