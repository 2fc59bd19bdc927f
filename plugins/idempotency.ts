import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { monotonicClock } from '../src/clock.js'
import { FRS_ERR_IDEMPOTENCY_SCOPE_INVALID } from '../src/errors.js'
import { describeValue } from '../src/describe.js'
import {
  IDEMPOTENCY_PROBLEM_TYPES,
  readIdempotencyKey,
  requestFingerprint,
  resolveIdempotencyOptions,
  resolveRouteIdempotency,
  joinedStoreKey,
  scopedStoreKey,
  CallTimeouts,
  LeaseKeeper,
  MemoryIdempotencyStore,
} from '../src/idempotency/index.js'
import type {
  ClaimOutcome,
  IdempotencyOptions as IdempotencyOptionsOf,
  ResolvedIdempotencyOptions,
  ResolvedRouteIdempotency,
  RouteIdempotencyConfig,
} from '../src/idempotency/index.js'
import { IdempotencyMetrics } from '../src/metrics/idempotency.js'
import type { IdempotencyTally } from '../src/metrics/idempotency.js'
import { replayedChannel } from '../src/metrics/channels.js'
import type { ReplayedMessage } from '../src/metrics/channels.js'
import { appendRouteHook, routeLabel } from './route-options.js'
import { declareKeptHandler } from './outcome-marks.js'
import { metricsHubOf } from './metrics-hub.js'
import {
  claimOf,
  claimTimeoutMs,
  createOnSend,
  kClaim,
  releaseClaim,
  releaseIfAbandoned,
  remainingBudgetMs,
  renewLease,
  replay,
  storeCall,
  trackSettlement,
} from './idempotency-lifecycle.js'
import type { Claim, HeldLease, RequestSlots, Runtime } from './idempotency-lifecycle.js'

/*
 * The fencing token of a claim: unique across processes sharing a store
 * (a random prefix drawn once per process) and within this one (a
 * counter), for the price of a string concatenation instead of a UUID per
 * request.
 */
const OWNER_PREFIX = `${randomUUID()}:`
let ownerSequence = 0
function nextOwner (): string {
  ownerSequence += 1
  return `${OWNER_PREFIX}${ownerSequence.toString(36)}`
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Idempotency-Key handling for this route; absent or `false` leaves the route alone. */
    idempotency?: RouteIdempotencyConfig | false
  }
}

function claimOnce (request: FastifyRequest, runtime: Runtime, storeKey: string, fingerprint: string, owner: string): Promise<ClaimOutcome> {
  const { settings } = runtime
  return storeCall(runtime, 'claim', (store) => store.claim(storeKey, fingerprint, owner, settings.leaseMs), claimTimeoutMs(request, settings))
}

/**
 * Claims the key; with `waitForInFlight`, polls while another request
 * holds it, until that request answers, its lease runs out (the claim is
 * then ours) or this request's time is up.
 */
function claimKey (request: FastifyRequest, runtime: Runtime, storeKey: string, fingerprint: string, owner: string): Promise<ClaimOutcome> {
  // Without waiting, the store's answer is the outcome: no promise of our own.
  if (!runtime.settings.waitForInFlight) return claimOnce(request, runtime, storeKey, fingerprint, owner)
  return claimWaiting(request, runtime, storeKey, fingerprint, owner)
}

async function claimWaiting (request: FastifyRequest, runtime: Runtime, storeKey: string, fingerprint: string, owner: string): Promise<ClaimOutcome> {
  const { settings } = runtime
  let outcome = await claimOnce(request, runtime, storeKey, fingerprint, owner)
  const budgetMs = remainingBudgetMs(request)
  const giveUpAt = performance.now() + (Number.isFinite(budgetMs) ? Math.min(budgetMs, settings.leaseMs * 3) : settings.leaseMs)
  let pauseMs = 25
  while (outcome.kind === 'in-progress' && performance.now() + pauseMs < giveUpAt) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs))
    pauseMs = Math.min(pauseMs * 2, 250)
    try {
      outcome = await claimOnce(request, runtime, storeKey, fingerprint, owner)
    } catch (error) {
      // The first request still holds the key: failing open here could run
      // the handler beside it.
      request.log.warn({ err: error }, 'idempotency store failed while waiting for the request in flight')
      return outcome
    }
  }
  return outcome
}

function createPreHandler (runtime: Runtime, route: ResolvedRouteIdempotency, routeUrl: string, label: string) {
  const tally: IdempotencyTally | undefined = runtime.metrics?.forRoute(label)
  const { settings } = runtime
  const storeKeyOf = runtime.inProcess ? joinedStoreKey : scopedStoreKey
  return async function idempotencyPreHandler (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (!settings.methods.has(request.method)) return undefined
    const reading = readIdempotencyKey(request.headers['idempotency-key'])
    if (reading.kind === 'absent') {
      if (!route.required) return undefined
      request.log.info('idempotency key missing on a route that requires it')
      return reply.problem({ type: 'idempotency-key-missing', detail: 'Send an Idempotency-Key header with a unique value for this request.' })
    }
    if (reading.kind === 'invalid') {
      request.log.info({ reason: reading.reason }, 'malformed idempotency key refused')
      return reply.problem({ type: 'idempotency-key-invalid', detail: `The Idempotency-Key header is invalid: ${reading.reason}.` })
    }
    const scope = settings.scope === undefined ? '' : await settings.scope(request)
    if (typeof scope !== 'string' || (settings.scope !== undefined && scope === '')) {
      // An empty or missing scope would put callers in one shared key space.
      throw new FRS_ERR_IDEMPOTENCY_SCOPE_INVALID(describeValue(scope))
    }
    const storeKey = storeKeyOf(scope, request.method, routeUrl, reading.key)
    const fingerprint = settings.fingerprint === undefined
      ? requestFingerprint({ method: request.method, route: routeUrl, contentType: request.headers['content-type'], body: request.body })
      : settings.fingerprint(request)
    const owner = nextOwner()
    let outcome
    try {
      outcome = await claimKey(request, runtime, storeKey, fingerprint, owner)
    } catch (error) {
      if (tally !== undefined) tally.counts['store-error']++
      if (settings.onStoreError === 'fail-open') {
        request.log.warn({ err: error }, 'idempotency store unavailable; running without the key (fail-open)')
        return undefined
      }
      request.log.warn({ err: error }, 'idempotency store unavailable; request refused (fail-closed)')
      reply.header('retry-after', '1')
      return reply.problem({ type: 'idempotency-store-unavailable', detail: 'The request was not executed because its idempotency key could not be checked; retry later.' })
    }
    switch (outcome.kind) {
      case 'acquired': {
        if (tally !== undefined) tally.counts.executed++
        const claim: Claim = {
          storeKey, owner, ttlMs: route.ttlMs, phase: 'claimed', replyBeforeDeadline: null, replyAfterDeadline: null, lease: { storeKey, owner, request },
        }
        ;(request as unknown as RequestSlots)[kClaim] = claim
        if (reply.sent) {
          // The request ended while the claim was on its way (the client
          // left, or its deadline passed): no handler will run.
          await releaseClaim(request, claim, runtime, 'the request ended before its handler started')
          return reply
        }
        runtime.leases.hold(claim.lease)
        reply.raw.once('close', () => releaseIfAbandoned(request, claim, runtime))
        return undefined
      }
      case 'in-progress':
        if (tally !== undefined) tally.counts.conflict++
        // One second, not the lease's end: the first request's answer may
        // come at any moment, and the lease only says when the key frees
        // should that request die. A client told to wait out the lease would
        // give up on an answer that was about to exist.
        reply.header('retry-after', '1')
        return reply.problem({ type: 'idempotency-key-in-use', detail: 'A request with this idempotency key is still being processed.' })
      case 'mismatch':
        if (tally !== undefined) tally.counts.mismatch++
        return reply.problem({ type: 'idempotency-key-reused', detail: 'This idempotency key was used for a different request.' })
      case 'completed':
        request.log.info('idempotent request replayed')
        if (tally !== undefined) tally.counts.replayed++
        if (replayedChannel.hasSubscribers) replayedChannel.publish({ request, route: label, statusCode: outcome.response.status } satisfies ReplayedMessage<FastifyRequest>)
        return replay(reply, outcome.response)
    }
  }
}

/**
 * Makes retried POST and PATCH requests safe: the same key and request
 * run once, and every retry gets the first answer (IETF httpapi
 * Idempotency-Key draft).
 */
const idempotencyPlugin: FastifyPluginAsync<IdempotencyOptions> = async function idempotency (app, options) {
  const settings = resolveIdempotencyOptions<FastifyRequest>(options) as ResolvedIdempotencyOptions
  for (const [slug, definition] of Object.entries(IDEMPOTENCY_PROBLEM_TYPES)) app.problemTypes.register(slug, definition)
  app.decorateRequest(kClaim as unknown as string, null)
  declareKeptHandler(app)
  const runtime: Runtime = {
    settings,
    inProcess: settings.store instanceof MemoryIdempotencyStore,
    timeouts: new CallTimeouts(settings.storeTimeoutMs, monotonicClock),
    leases: new LeaseKeeper<HeldLease>(settings.leaseMs / 3, (lease) => renewLease(runtime, lease)),
    metrics: undefined,
  }
  const hub = metricsHubOf(app)
  if (hub !== undefined) runtime.metrics = new IdempotencyMetrics(hub)
  // A store still connecting would refuse the first requests (503, or run
  // them without their key when failing open): the server waits for it
  // before it takes traffic, as long as a store call may take.
  const { store, storeTimeoutMs } = settings
  if (store.ready !== undefined) {
    const ready = store.ready.bind(store)
    app.addHook('onReady', async () => {
      if (!await ready(storeTimeoutMs)) {
        app.log.warn({ storeTimeoutMs }, 'idempotency store not ready at startup; requests with a key find it unavailable until it is')
      }
    })
  }
  // By onClose every connection is gone: a claim still held belongs to a
  // request the shutdown cut off, whose client will retry. Released now,
  // the retry runs at once instead of waiting for the lease to run out.
  app.addHook('onClose', async () => {
    await Promise.all(runtime.leases.held().map(async ({ request }) => {
      const claim = claimOf(request)
      if (claim !== null && claim.phase !== 'done') await releaseClaim(request, claim, runtime, 'the server shut down before the request finished')
    }))
    runtime.timeouts.close()
    runtime.leases.close()
  })
  const onSend = createOnSend(runtime)

  app.addHook('onRoute', (routeOptions) => {
    const route = resolveRouteIdempotency(routeOptions.config?.idempotency, settings, routeLabel(routeOptions))
    if (route === false) return
    const preHandler = createPreHandler(runtime, route, routeOptions.url ?? routeOptions.path, routeLabel(routeOptions))
    appendRouteHook(routeOptions, 'preHandler', preHandler)
    appendRouteHook(routeOptions, 'onSend', onSend)
    routeOptions.handler = trackSettlement(routeOptions.handler, runtime)
  })
}

/** The idempotency-key capability as a Fastify plugin; needs {@link problemDetails}. */
export const idempotency = fp(idempotencyPlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/idempotency',
  dependencies: ['fastify-resilience/problem-details'],
})

/** Options of the `idempotency` plugin; `scope` and `fingerprint` receive Fastify's request. */
export type IdempotencyOptions<Request = FastifyRequest> = IdempotencyOptionsOf<Request>
export type { RouteIdempotencyConfig }
