import { performance } from 'node:perf_hooks'
import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { monotonicClock } from '../src/clock.js'
import { FRS_ERR_FINGERPRINT_CYCLE, FRS_ERR_IDEMPOTENCY_SCOPE_INVALID, FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT } from '../src/errors.js'
import { carriesBody } from '../src/payload.js'
import { describeValue } from '../src/describe.js'
import {
  IDEMPOTENCY_PROBLEM_TYPES,
  readIdempotencyKey,
  inProcessFingerprint,
  requestFingerprint,
  resolveIdempotencyOptions,
  resolveRouteIdempotency,
  joinedStoreKey,
  scopedStoreKey,
  replayableNames,
  CallTimeouts,
  LeaseKeeper,
  MemoryIdempotencyStore,
  RedisIdempotencyStore,
  policyEvicts,
} from '../src/idempotency/index.js'
import type {
  ClaimOutcome,
  IdempotencyOptions as IdempotencyOptionsOf,
  KeptResponse,
  ResolvedIdempotencyOptions,
  ResolvedRouteIdempotency,
  RouteIdempotencyConfig,
} from '../src/idempotency/index.js'
import { IdempotencyMetrics } from '../src/metrics/idempotency.js'
import type { IdempotencyTally } from '../src/metrics/idempotency.js'
import { replayedChannel } from '../src/metrics/channels.js'
import type { ReplayedMessage } from '../src/metrics/channels.js'
import { appendRouteHook, routeLabel } from './route-options.js'
import type { RouteConfigObject } from './route-options.js'
import { metricsHubOf } from './metrics-hub.js'
import { degradedHeadersOf } from './outcome-marks.js'
import {
  claimOf,
  claimTimeoutMs,
  createOnSend,
  releaseClaim,
  releaseIfAbandoned,
  remainingBudgetMs,
  renewLease,
  replay,
  storeCall,
  storeCallNow,
  trackSettlement,
} from './idempotency-lifecycle.js'
import type { Claim, HeldLease, Runtime } from './idempotency-lifecycle.js'
import { declareRequestState, stateFor } from './request-state.js'
import { registerOnce } from './registered-once.js'

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
    idempotency?: RouteConfigObject<RouteIdempotencyConfig> | false
  }
}

function claimOnce (request: FastifyRequest, runtime: Runtime, storeKey: string, fingerprint: string, owner: string): Promise<ClaimOutcome> {
  const { settings } = runtime
  return storeCall(runtime, 'claim', (store) => store.claim(storeKey, fingerprint, owner, settings.leaseMs), claimTimeoutMs(request, settings), (late) => {
    if (late.kind === 'acquired') releaseLateClaim(request, runtime, storeKey, owner)
  })
}

/**
 * A claim that came back after its timeout: the request was answered as
 * if the store were unavailable (or ran without its key), yet the claim
 * was made, as when a Redis client sends the commands it queued once it
 * reconnects. Nothing runs under it, so it is released: kept, every retry
 * would be told the key is in use until its lease ran out.
 */
function releaseLateClaim (request: FastifyRequest, runtime: Runtime, storeKey: string, owner: string): void {
  storeCall(runtime, 'release', (store) => store.release(storeKey, owner)).then(() => {
    request.log.info('idempotency claim that came back after its timeout released')
  }, (error: unknown) => {
    request.log.warn({ err: error }, 'idempotency claim that came back after its timeout could not be released; it frees itself when its lease runs out')
  })
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

/** The scope a `scope(request)` gave, refused when it is not a string or is empty. */
function checkedScope (scope: unknown, configured: boolean): string {
  if (typeof scope !== 'string' || (configured && scope === '')) {
    // An empty or missing scope would put callers in one shared key space.
    throw new FRS_ERR_IDEMPOTENCY_SCOPE_INVALID(describeValue(scope))
  }
  return scope
}

function isStoreTimeout (error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT'
}

/** Resolves once the request's deadline has passed or its client has gone (its signal aborts); at once without deadlines. */
async function deadlinePassed (request: FastifyRequest): Promise<void> {
  const signal = (request as { deadline?: { signal: AbortSignal } }).deadline?.signal
  if (signal === undefined || signal.aborted) return
  await new Promise((resolve) => { signal.addEventListener('abort', resolve, { once: true }) })
}

function isThenable (value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

/**
 * The preHandler of an idempotent route. With the memory store and a
 * scope known at once (none, or a `scope()` that returns a string), the
 * claim is made and answered within this call, as a callback hook: no
 * promise, no turn of the microtask queue. Otherwise (Redis, a scope that
 * resolves later, waiting for the request in flight) it returns the
 * promise of the same steps, resolving to the reply when it answered.
 */
function createPreHandler (runtime: Runtime, route: ResolvedRouteIdempotency, routeUrl: string, label: string) {
  const tally: IdempotencyTally | undefined = runtime.metrics?.forRoute(label)
  const { settings } = runtime
  const storeKeyOf = runtime.inProcess ? joinedStoreKey : scopedStoreKey
  // Waiting for the request in flight polls the store over time: a promise.
  const claimsNow = runtime.inProcess && !settings.waitForInFlight

  const builtInFingerprint = runtime.inProcess ? inProcessFingerprint : requestFingerprint
  // The URL tells apart requests of one route only through its parameters
  // and query string; without them, its other spellings (a trailing slash,
  // percent-encoding, letter case) reach the same route, and are left out.
  const routeHasParameters = /[:*]/.test(routeUrl)
  /** The request's fingerprint; undefined when the built-in one cannot cover its body. */
  function fingerprintOf (request: FastifyRequest): string | undefined {
    if (settings.fingerprint !== undefined) return settings.fingerprint(request)
    const { url, body } = request
    // A body that no parser read (a streamed multipart upload, which the
    // handler reads itself) would count as no body: two different uploads
    // under one key would look the same, and the second get the first's answer.
    if (body === undefined && carriesBody(request.headers)) return undefined
    try {
      return builtInFingerprint({ method: request.method, route: routeUrl, url: routeHasParameters || url.includes('?') ? url : undefined, contentType: request.headers['content-type'], body })
    } catch (error) {
      // A body that contains itself (@fastify/multipart's attachFieldsToBody: true) has no canonical form.
      if (error instanceof FRS_ERR_FINGERPRINT_CYCLE) return undefined
      throw error
    }
  }

  /** The body cannot be fingerprinted: the key cannot be honoured, and nothing runs. */
  function refuseUncomparable (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    request.log.warn({ route: label }, 'idempotent request refused: its body was not parsed before the handler, or contains itself; give idempotency a fingerprint() that covers it')
    return reply.problem({ type: 'idempotency-body-unsupported', detail: 'This request\'s body cannot be compared with the one first sent under its key, so the key cannot be honoured.' })
  }

  /** The store could not answer: run without the key, or refuse. Undefined when the handler is to run. */
  function storeUnavailable (request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply | undefined {
    if (tally !== undefined) tally.counts['store-error']++
    if (settings.onStoreError === 'fail-open') {
      request.log.warn({ err: error }, 'idempotency store unavailable; running without the key (fail-open)')
      return undefined
    }
    request.log.warn({ err: error }, 'idempotency store unavailable; request refused (fail-closed)')
    reply.header('retry-after', '1')
    return reply.problem({ type: 'idempotency-store-unavailable', detail: 'The request was not executed because its idempotency key could not be checked; retry later.' })
  }

  // The headers a replay may send, settled at the route's first replay: by
  // then every plugin is registered, the dependencies plugin (whose
  // degraded headers a replay sends too) included, wherever it sits.
  let replayable: ReadonlySet<string> | undefined

  /** The key is this request's: it keeps it until its answer is stored or it ends. */
  function acquired (request: FastifyRequest, storeKey: string, owner: string, fingerprint: string): Claim {
    if (tally !== undefined) tally.counts.executed++
    const claim: Claim = {
      storeKey, owner, fingerprint, ttlMs: route.ttlMs, phase: 'claimed', storing: false, replyBeforeDeadline: null, failedAfterAnswer: false, replyAfterDeadline: null, lease: { storeKey, owner, request },
    }
    stateFor(request).claim = claim
    return claim
  }

  function hold (request: FastifyRequest, reply: FastifyReply, claim: Claim): void {
    runtime.leases.hold(claim.lease)
    // A response closes once: `on` spares the wrapper `once` builds per call.
    reply.raw.on('close', () => releaseIfAbandoned(request, claim, runtime))
  }

  /** Answers for a key another request holds, used or completed. */
  function answerFor (request: FastifyRequest, reply: FastifyReply, outcome: Exclude<ClaimOutcome<KeptResponse>, { kind: 'acquired' }>): FastifyReply {
    switch (outcome.kind) {
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
        replayable ??= replayableNames(settings.replayHeaders, degradedHeadersOf(request.server))
        return replay(reply, outcome.response, replayable)
    }
  }

  async function claimLater (request: FastifyRequest, reply: FastifyReply, scope: unknown, key: string): Promise<FastifyReply | undefined> {
    const given = typeof scope === 'string' ? scope : await scope
    const storeKey = storeKeyOf(checkedScope(given, settings.scope !== undefined), request.method, routeUrl, key)
    const fingerprint = fingerprintOf(request)
    if (fingerprint === undefined) return refuseUncomparable(request, reply)
    const owner = nextOwner()
    // The claim's timeout is the request's remaining budget when that is
    // the shorter: its running out is then the deadline's, not the store's.
    const boundedByDeadline = remainingBudgetMs(request) < settings.storeTimeoutMs
    let outcome
    try {
      outcome = await claimKey(request, runtime, storeKey, fingerprint, owner)
    } catch (error) {
      // Its timer may go off just before the deadline's own (they are two
      // timers for about the same moment, and a busy loop runs them in
      // either order): taken for the store's failure, it answered 503, or,
      // failing open, ran the handler without its key, and the client's
      // retry ran it again. The deadline answers instead.
      if (!reply.sent && boundedByDeadline && isStoreTimeout(error)) await deadlinePassed(request)
      // Answered meanwhile (the deadline's 504, or its client gone): one answer is all a request gets.
      if (reply.sent) return reply
      return storeUnavailable(request, reply, error)
    }
    if (outcome.kind !== 'acquired') return reply.sent ? reply : answerFor(request, reply, outcome)
    const claim = acquired(request, storeKey, owner, fingerprint)
    if (reply.sent) {
      // The request ended while the claim was on its way (the client
      // left, or its deadline passed): no handler will run.
      await releaseClaim(request, claim, runtime, 'the request ended before its handler started')
      return reply
    }
    hold(request, reply, claim)
    return undefined
  }

  // A callback hook that may return a promise: Fastify goes on when
  // `done` is called or the promise resolves, and stops, the reply sent,
  // when neither happens.
  return function idempotencyPreHandler (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): Promise<FastifyReply | undefined> | undefined {
    if (!settings.methods.has(request.method)) {
      done()
      return undefined
    }
    const reading = readIdempotencyKey(request.headers['idempotency-key'])
    if (reading.kind === 'absent') {
      if (!route.required) {
        done()
        return undefined
      }
      request.log.info('idempotency key missing on a route that requires it')
      reply.problem({ type: 'idempotency-key-missing', detail: 'Send an Idempotency-Key header with a unique value for this request.' })
      return undefined
    }
    if (reading.kind === 'invalid') {
      request.log.info({ reason: reading.reason }, 'malformed idempotency key refused')
      reply.problem({ type: 'idempotency-key-invalid', detail: `The Idempotency-Key header is invalid: ${reading.reason}.` })
      return undefined
    }
    const scope = settings.scope === undefined ? '' : settings.scope(request)
    if (!claimsNow || isThenable(scope)) return claimLater(request, reply, scope, reading.key)
    const storeKey = storeKeyOf(checkedScope(scope, settings.scope !== undefined), request.method, routeUrl, reading.key)
    const fingerprint = fingerprintOf(request)
    if (fingerprint === undefined) {
      refuseUncomparable(request, reply)
      return undefined
    }
    const owner = nextOwner()
    let outcome
    try {
      outcome = storeCallNow(runtime, 'claim', (store) => store.claimNow(storeKey, fingerprint, owner, settings.leaseMs))
    } catch (error) {
      if (storeUnavailable(request, reply, error) === undefined) done()
      return undefined
    }
    if (outcome.kind === 'acquired') {
      hold(request, reply, acquired(request, storeKey, owner, fingerprint))
      done()
      return undefined
    }
    answerFor(request, reply, outcome)
    return undefined
  }
}

/**
 * Warns at startup when the store's Redis may evict its keys: an evicted
 * answer or claim is forgotten, and the retry runs its handler again with
 * nothing logged then. A policy that cannot be read (INFO refused, slower
 * than a store call may be, or without the field) leaves startup as it
 * was, with a debug line: startup never waits longer than a store call,
 * nor fails, for a check.
 */
async function warnIfRedisEvicts (log: FastifyBaseLogger, runtime: Runtime, store: RedisIdempotencyStore): Promise<void> {
  const { storeTimeoutMs } = runtime.settings
  let policy: string | undefined
  try {
    policy = await runtime.timeouts.run(store.maxmemoryPolicy(), storeTimeoutMs, () => new FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT(Math.round(storeTimeoutMs)))
  } catch (error) {
    log.debug({ err: error }, 'idempotency store: Redis eviction policy not checked, INFO memory failed')
    return
  }
  if (policy === undefined) {
    log.debug('idempotency store: Redis eviction policy not checked, INFO memory has no maxmemory_policy')
    return
  }
  if (policyEvicts(policy)) {
    log.warn({ maxmemoryPolicy: policy }, `idempotency store: Redis maxmemory-policy is ${policy}: Redis may evict stored answers and claims under memory pressure; a retry would then run its handler again; set maxmemory-policy noeviction`)
  }
}

/**
 * Makes retried POST and PATCH requests safe: the same key and request
 * run once, and every retry gets the first answer (IETF httpapi
 * Idempotency-Key draft).
 */
const idempotencyPlugin: FastifyPluginAsync<IdempotencyOptions> = async function idempotency (app, options) {
  registerOnce(app, 'fastify-resilience/idempotency')
  const settings = resolveIdempotencyOptions<FastifyRequest>(options) as ResolvedIdempotencyOptions
  for (const [slug, definition] of Object.entries(IDEMPOTENCY_PROBLEM_TYPES)) app.problemTypes.register(slug, definition)
  declareRequestState(app)
  // Which built-in store it is, itself, not a subclass: one that overrides
  // its methods is called through them, as any store is.
  const storePrototype: unknown = Object.getPrototypeOf(settings.store)
  const runtime: Runtime = {
    settings,
    inProcess: storePrototype === MemoryIdempotencyStore.prototype,
    keepsText: storePrototype === RedisIdempotencyStore.prototype,
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
        return
      }
      if (store instanceof RedisIdempotencyStore) await warnIfRedisEvicts(app.log, runtime, store)
    })
  }
  // By onClose every connection is gone. A claim whose handler never
  // started belongs to a request the shutdown cut off before any work:
  // released now, the client's retry runs at once instead of waiting for
  // the lease to run out. A handler that started keeps its key, as when
  // its client leaves: its outcome is the answer, and a retry run beside
  // it would do its write twice. Its lease is renewed while the process
  // lives (the keeper's timer holds no process open) and runs out once it
  // exits, as after a crash.
  app.addHook('onClose', async () => {
    await Promise.all(runtime.leases.held().map(async ({ request }) => {
      const claim = claimOf(request)
      if (claim !== null && claim.phase === 'claimed') await releaseClaim(request, claim, runtime, 'the server shut down before the handler started')
    }))
    runtime.timeouts.close()
  })
  const onSend = createOnSend(runtime)

  app.addHook('onRoute', (routeOptions) => {
    const route = resolveRouteIdempotency(routeOptions.config?.idempotency, settings, routeLabel(routeOptions), typeof routeOptions.method === 'string' ? [routeOptions.method] : routeOptions.method)
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
