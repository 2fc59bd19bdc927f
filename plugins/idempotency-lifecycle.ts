import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import { FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT } from '../src/errors.js'
import type { CallTimeouts, IdempotencyStore, LeaseKeeper, ResolvedIdempotencyOptions, StoredResponse } from '../src/idempotency/index.js'
import { isStream } from '../src/payload.js'

/*
 * The life of one claimed idempotency key after the preHandler claimed it:
 * renewing its lease, storing the answer or releasing the key, and
 * following the handler so that a key is never held past its request.
 */

/** A claimed key, from preHandler until the key is stored or released. */
export interface Claim {
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

export const kClaim = Symbol('fastify-resilience.idempotency-claim')
export const REPLAY_HEADER = 'idempotent-replayed'

export interface RequestSlots {
  [kClaim]: Claim | null
}

export function claimOf (request: FastifyRequest): Claim | null {
  return (request as unknown as RequestSlots)[kClaim]
}

/** Time left in the request's deadline; unbounded when the deadlines plugin is not registered. */
export function remainingBudgetMs (request: FastifyRequest): number {
  return (request as { deadline?: { remainingMs: () => number } }).deadline?.remainingMs() ?? Number.POSITIVE_INFINITY
}

/** The request's own budget bounds a claim: waiting longer cannot help the caller. */
export function claimTimeoutMs (request: FastifyRequest, settings: ResolvedIdempotencyOptions): number {
  return Math.min(settings.storeTimeoutMs, remainingBudgetMs(request))
}

/** What the hooks of one plugin instance share. */
export interface Runtime {
  settings: ResolvedIdempotencyOptions
  timeouts: CallTimeouts
  leases: LeaseKeeper<HeldLease>
}

/** What the lease keeper needs to renew a claim. */
export interface HeldLease {
  storeKey: string
  owner: string
  request: FastifyRequest
}

/**
 * Calls the store with a timeout. A custom store that throws instead of
 * rejecting gets the same treatment as one that rejects, so no call site
 * (a timer callback included) can see a synchronous throw.
 */
export async function storeCall<T> (runtime: Runtime, call: (store: IdempotencyStore) => Promise<T>, timeoutMs = runtime.settings.storeTimeoutMs): Promise<T> {
  let pending: Promise<T>
  try {
    pending = call(runtime.settings.store)
  } catch (error) {
    pending = Promise.reject(error)
  }
  return await runtime.timeouts.run(pending, timeoutMs, () => new FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT(Math.round(timeoutMs)))
}

export function renewLease (runtime: Runtime, { storeKey, owner, request }: HeldLease): void {
  storeCall(runtime, async (store) => await store.renew(storeKey, owner, runtime.settings.leaseMs)).then((held) => {
    if (!held) request.log.warn('idempotency lease lost while the handler runs; its result will not be stored')
  }, (error: unknown) => {
    request.log.warn({ err: error }, 'idempotency lease could not be renewed')
  })
}

export async function releaseClaim (request: FastifyRequest, claim: Claim, runtime: Runtime, why: string): Promise<void> {
  runtime.leases.drop(claim.lease)
  claim.releasePending = false
  try {
    await storeCall(runtime, async (store) => await store.release(claim.storeKey, claim.owner))
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

export function replay (reply: FastifyReply, response: StoredResponse): FastifyReply {
  reply.code(response.status)
  for (const [name, value] of Object.entries(response.headers)) reply.header(name, value)
  reply.header(REPLAY_HEADER, 'true')
  return reply.send(response.body)
}

export function createOnSend (runtime: Runtime) {
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
      const stored = await storeCall(runtime, async (store) => await store.complete(claim.storeKey, claim.owner, response, claim.ttlMs))
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
export function releaseIfAbandoned (request: FastifyRequest, claim: Claim, runtime: Runtime): void {
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
export function trackSettlement (handler: RouteHandlerMethod, runtime: Runtime): RouteHandlerMethod {
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
