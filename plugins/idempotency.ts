import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import { isStream } from '../src/payload.js'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import { monotonicClock } from '../src/clock.js'
import { FRS_ERR_IDEMPOTENCY_SCOPE_INVALID, FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT } from '../src/errors.js'
import { describeValue } from '../src/describe.js'
import {
  IDEMPOTENCY_PROBLEM_TYPES,
  readIdempotencyKey,
  requestFingerprint,
  resolveIdempotencyOptions,
  resolveRouteIdempotency,
  scopedStoreKey,
  CallTimeouts,
  LeaseKeeper,
} from '../src/idempotency/index.js'
import type {
  ClaimOutcome,
  IdempotencyOptions,
  ResolvedIdempotencyOptions,
  ResolvedRouteIdempotency,
  RouteIdempotencyConfig,
  StoredResponse,
} from '../src/idempotency/index.js'
import { appendRouteHook, routeLabel } from './route-options.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Idempotency-Key handling for this route; absent or `false` leaves the route alone. */
    idempotency?: RouteIdempotencyConfig | false
  }
}

/** A claimed key, from preHandler until the key is stored or released. */
interface Claim {
  storeKey: string
  owner: string
  ttlMs: number
  /** onSend has decided what happens to the key. */
  answered: boolean
  /** The handler was called: an answer without it (another plugin's) is never stored. */
  handlerStarted: boolean
  /** The handler has settled (resolved, rejected or thrown). */
  handlerSettled: boolean
  /** The key waits to be released until the handler settles. */
  releasePending: boolean
  lease: HeldLease
}

const kClaim = Symbol('fastify-resilience.idempotency-claim')
const REPLAY_HEADER = 'idempotent-replayed'

interface RequestSlots {
  [kClaim]: Claim | null
}

function claimOf (request: FastifyRequest): Claim | null {
  return (request as unknown as RequestSlots)[kClaim]
}

/** Time left in the request's deadline; unbounded when the deadlines plugin is not registered. */
function remainingBudgetMs (request: FastifyRequest): number {
  return (request as { deadline?: { remainingMs: () => number } }).deadline?.remainingMs() ?? Number.POSITIVE_INFINITY
}

/** The request's own budget bounds a claim: waiting longer cannot help the caller. */
function claimTimeoutMs (request: FastifyRequest, settings: ResolvedIdempotencyOptions): number {
  return Math.min(settings.storeTimeoutMs, remainingBudgetMs(request))
}

/** What the hooks of one plugin instance share. */
interface Runtime {
  settings: ResolvedIdempotencyOptions
  timeouts: CallTimeouts
  leases: LeaseKeeper<HeldLease>
}

/** What the lease keeper needs to renew a claim. */
interface HeldLease {
  storeKey: string
  owner: string
  request: FastifyRequest
}

async function storeCall<T> (runtime: Runtime, call: Promise<T>, timeoutMs = runtime.settings.storeTimeoutMs): Promise<T> {
  return await runtime.timeouts.run(call, timeoutMs, () => new FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT(Math.round(timeoutMs)))
}

function renewLease (runtime: Runtime, { storeKey, owner, request }: HeldLease): void {
  const { settings } = runtime
  // Promise.resolve().then: a custom store that throws synchronously must
  // not take the process down from inside a timer.
  storeCall(runtime, Promise.resolve().then(async () => await settings.store.renew(storeKey, owner, settings.leaseMs))).then((held) => {
    if (!held) request.log.warn('idempotency lease lost while the handler runs; its result will not be stored')
  }, (error: unknown) => {
    request.log.warn({ err: error }, 'idempotency lease could not be renewed')
  })
}

async function releaseClaim (request: FastifyRequest, claim: Claim, runtime: Runtime, why: string): Promise<void> {
  runtime.leases.drop(claim.lease)
  claim.releasePending = false
  try {
    await storeCall(runtime, runtime.settings.store.release(claim.storeKey, claim.owner))
    request.log.info({ why }, 'idempotency key released; the client may retry')
  } catch (error) {
    request.log.warn({ err: error, why }, 'idempotency key could not be released; it frees itself when its lease runs out')
  }
}

function storedHeaders (reply: FastifyReply, allowed: ReadonlySet<string>): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    const lower = name.toLowerCase()
    if (!allowed.has(lower) || value === undefined) continue
    headers[lower] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return headers
}

/** Why a response is not stored, or undefined when it is. */
function notStorableBecause (reply: FastifyReply, payload: unknown, settings: ResolvedIdempotencyOptions): string | undefined {
  if (reply.statusCode >= 500 && !settings.storeServerErrors) return `status ${reply.statusCode}`
  if (isStream(payload)) return 'the body is a stream'
  if (payload !== undefined && payload !== null && typeof payload !== 'string' && !Buffer.isBuffer(payload)) return 'the body is not serialised'
  const size = payload === undefined || payload === null ? 0 : Buffer.byteLength(payload as string | Buffer)
  if (size > settings.maxBodyBytes) return `the body is ${size} bytes, over maxBodyBytes (${settings.maxBodyBytes})`
  return undefined
}

function replay (reply: FastifyReply, response: StoredResponse): FastifyReply {
  reply.code(response.status)
  for (const [name, value] of Object.entries(response.headers)) reply.header(name, value)
  reply.header(REPLAY_HEADER, 'true')
  return reply.send(response.body)
}

async function claimOnce (request: FastifyRequest, runtime: Runtime, storeKey: string, fingerprint: string, owner: string): Promise<ClaimOutcome> {
  const { settings } = runtime
  return await storeCall(runtime, settings.store.claim(storeKey, fingerprint, owner, settings.leaseMs), claimTimeoutMs(request, settings))
}

/**
 * Claims the key; with `waitForInFlight`, polls while another request
 * holds it, until that request answers, its lease runs out (the claim is
 * then ours) or this request's time is up.
 */
async function claimKey (request: FastifyRequest, runtime: Runtime, storeKey: string, fingerprint: string, owner: string): Promise<ClaimOutcome> {
  const { settings } = runtime
  let outcome = await claimOnce(request, runtime, storeKey, fingerprint, owner)
  if (!settings.waitForInFlight) return outcome
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

function createPreHandler (runtime: Runtime, route: ResolvedRouteIdempotency, routeUrl: string) {
  const { settings } = runtime
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
    const storeKey = scopedStoreKey(scope, request.method, routeUrl, reading.key)
    const fingerprint = settings.fingerprint === undefined
      ? requestFingerprint({ method: request.method, route: routeUrl, contentType: request.headers['content-type'], body: request.body })
      : settings.fingerprint(request)
    const owner = randomUUID()
    let outcome
    try {
      outcome = await claimKey(request, runtime, storeKey, fingerprint, owner)
    } catch (error) {
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
        const claim: Claim = {
          storeKey, owner, ttlMs: route.ttlMs, answered: false, handlerStarted: false, handlerSettled: false, releasePending: false, lease: { storeKey, owner, request },
        }
        ;(request as unknown as RequestSlots)[kClaim] = claim
        if (reply.sent) {
          // The request ended while the claim was on its way (the client
          // left, or its deadline passed): no handler will run.
          claim.answered = true
          await releaseClaim(request, claim, runtime, 'the request ended before its handler started')
          return reply
        }
        runtime.leases.hold(claim.lease)
        reply.raw.once('close', () => releaseIfAbandoned(request, claim, runtime))
        return undefined
      }
      case 'in-progress':
        reply.header('retry-after', String(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000))))
        return reply.problem({ type: 'idempotency-key-in-use', detail: 'A request with this idempotency key is still being processed.' })
      case 'mismatch':
        return reply.problem({ type: 'idempotency-key-reused', detail: 'This idempotency key was used for a different request.' })
      case 'completed':
        request.log.info('idempotent request replayed')
        return replay(reply, outcome.response)
    }
  }
}

function createOnSend (runtime: Runtime) {
  const { settings } = runtime
  return async function idempotencyOnSend (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const claim = claimOf(request)
    if (claim === null || claim.answered) return payload
    claim.answered = true
    if (!claim.handlerStarted) {
      await releaseClaim(request, claim, runtime, 'answered before the handler ran (by another hook)')
      return payload
    }
    const reason = notStorableBecause(reply, payload, settings)
    if (reason !== undefined) {
      if (claim.handlerSettled || reply.statusCode < 500) await releaseClaim(request, claim, runtime, reason)
      // A 5xx sent while the handler still runs (a deadline): the key stays
      // held until the handler stops, so a retry cannot run beside it.
      else claim.releasePending = true
      if (reason.startsWith('the body')) request.log.warn({ why: reason }, 'response not stored for idempotent replay')
      return payload
    }
    runtime.leases.drop(claim.lease)
    const response: StoredResponse = {
      status: reply.statusCode,
      headers: storedHeaders(reply, settings.replayHeaders),
      body: payload === undefined || payload === null ? Buffer.alloc(0) : Buffer.from(payload as string | Buffer),
    }
    try {
      const stored = await storeCall(runtime, settings.store.complete(claim.storeKey, claim.owner, response, claim.ttlMs))
      if (!stored) request.log.warn('idempotency lease was lost before the response could be stored; a later request owns the key')
    } catch (error) {
      request.log.error({ err: error }, 'idempotent response could not be stored; the key frees itself when its lease runs out')
    }
    return payload
  }
}

function releaseInBackground (request: FastifyRequest, claim: Claim, runtime: Runtime, why: string): void {
  claim.answered = true
  releaseClaim(request, claim, runtime, why).catch((error: unknown) => {
    request.log.error({ err: error }, 'releasing an idempotency key failed')
  })
}

/**
 * The connection closed: a claim that no answer reached is released,
 * unless its handler still runs (it is released when the handler stops).
 */
function releaseIfAbandoned (request: FastifyRequest, claim: Claim, runtime: Runtime): void {
  if (claim.answered) return
  if (claim.handlerSettled || !claim.handlerStarted) releaseInBackground(request, claim, runtime, 'the client left without an answer')
}

function handlerSettled (request: FastifyRequest, reply: FastifyReply, runtime: Runtime): void {
  const claim = claimOf(request)
  if (claim === null) return
  claim.handlerSettled = true
  // No answer will pass onSend (hijacked, aborted): release now.
  if (claim.releasePending || (!claim.answered && reply.sent)) releaseInBackground(request, claim, runtime, 'the request ended without a storable answer')
}

/** Tracks when the handler starts and settles, to release a key held past a 5xx or an abort. */
function trackSettlement (handler: RouteHandlerMethod, runtime: Runtime): RouteHandlerMethod {
  return function idempotentHandler (this: FastifyInstance, request, reply) {
    const claim = claimOf(request)
    if (claim !== null) claim.handlerStarted = true
    let result: unknown
    try {
      result = handler.call(this, request, reply)
    } catch (error) {
      handlerSettled(request, reply, runtime)
      throw error
    }
    if (typeof (result as Promise<unknown> | undefined)?.then !== 'function') {
      handlerSettled(request, reply, runtime)
      return result
    }
    return (result as Promise<unknown>).then((value) => {
      handlerSettled(request, reply, runtime)
      return value
    }, (error: unknown) => {
      handlerSettled(request, reply, runtime)
      if (claim !== null && claim.answered) {
        // The answer is already on its way (and stored): a second, error
        // answer would reach the client while retries replay the first.
        request.log.error({ err: error }, 'handler failed after it answered; the answer stands')
        return reply
      }
      throw error
    })
  }
}

/**
 * Makes retried POST and PATCH requests safe: the same key and request
 * run once, and every retry gets the first answer (IETF httpapi
 * Idempotency-Key draft).
 */
const idempotencyPlugin: FastifyPluginAsync<IdempotencyOptions<FastifyRequest>> = async function idempotency (app, options) {
  const settings = resolveIdempotencyOptions<FastifyRequest>(options) as ResolvedIdempotencyOptions
  for (const [slug, definition] of Object.entries(IDEMPOTENCY_PROBLEM_TYPES)) app.problemTypes.register(slug, definition)
  app.decorateRequest(kClaim as unknown as string, null)
  const runtime: Runtime = {
    settings,
    timeouts: new CallTimeouts(settings.storeTimeoutMs, monotonicClock),
    leases: new LeaseKeeper<HeldLease>(settings.leaseMs / 3, (lease) => renewLease(runtime, lease)),
  }
  app.addHook('onClose', async () => {
    runtime.timeouts.close()
    runtime.leases.close()
  })
  const onSend = createOnSend(runtime)

  app.addHook('onRoute', (routeOptions) => {
    const route = resolveRouteIdempotency(routeOptions.config?.idempotency, settings, routeLabel(routeOptions))
    if (route === false) return
    const preHandler = createPreHandler(runtime, route, routeOptions.url ?? routeOptions.path)
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

export type { IdempotencyOptions, RouteIdempotencyConfig }
