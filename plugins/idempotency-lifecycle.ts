import { Buffer } from 'node:buffer'
import { performance } from 'node:perf_hooks'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import { FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT } from '../src/errors.js'
import { decodedBody, replayableHeaders } from '../src/idempotency/index.js'
import type { CallTimeouts, IdempotencyStore, KeptResponse, LeaseKeeper, MemoryIdempotencyStore, ResolvedIdempotencyOptions, StoredResponse } from '../src/idempotency/index.js'
import { discardStreamIn, streamedBody } from '../src/payload.js'
import type { IdempotencyMetrics, StoreOperation } from '../src/metrics/idempotency.js'
import { keepHandlerRunning, stopKeepingHandler } from './outcome-marks.js'
import type { KeptHandler, ReplySnapshot } from './outcome-marks.js'
import { stateOf } from './request-state.js'

/*
 * The life of one claimed idempotency key after the preHandler claimed it:
 * renewing its lease, storing the answer or releasing the key, and
 * following the handler so that a key is never held past its request.
 */

/**
 * Where a claimed key stands. Every path (client gone, deadline passed,
 * handler threw, answer sent) is a move between these, made in this file.
 *
 * - `claimed`: the key is ours; the handler has not started.
 * - `running`: the handler runs and nothing has answered yet.
 * - `settled`: the handler has settled; its answer is on its way to onSend.
 * - `detached`: a 5xx (the deadline's 504) answered while the handler runs;
 *   the handler's own outcome, when it comes, decides what the key keeps.
 * - `done`: the answer is stored or the key released.
 */
export type ClaimPhase = 'claimed' | 'running' | 'settled' | 'detached' | 'done'

/** A claimed key, from preHandler until the key is stored or released. */
export interface Claim extends KeptHandler {
  storeKey: string
  owner: string
  /** The request's fingerprint, for a record that is gone by the time the answer is stored. */
  fingerprint: string
  ttlMs: number
  phase: ClaimPhase
  /**
   * The answer is on its way to the store, its send waiting for it. A
   * second send meanwhile is Fastify's own, made when an async handler
   * called reply.send() without returning the reply: it is dropped, as
   * Fastify drops a send once the reply is sent, rather than answering
   * first with an empty body and then writing the first answer over it.
   */
  storing: boolean
  /** The reply as the 504 left it, to tell what the handler sets after it. */
  replyAfterDeadline: ReplySnapshot | null
  lease: HeldLease
}

export const REPLAY_HEADER = 'idempotent-replayed'

export function claimOf (request: FastifyRequest): Claim | null {
  return stateOf(request)?.claim ?? null
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
  /**
   * The store is the built-in memory store: it answers within the same
   * turn and keeps everything in this process, so its calls need no
   * timeout and its keys no hashing.
   */
  inProcess: boolean
  /**
   * The store is the built-in Redis store itself: it takes a body sent as
   * text as that text, which ioredis writes as it is, where a Buffer
   * argument makes it convert every argument of the call into a Buffer.
   */
  keepsText: boolean
  timeouts: CallTimeouts
  leases: LeaseKeeper<HeldLease>
  /** Set when metrics are on. */
  metrics: IdempotencyMetrics | undefined
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
export function storeCall<T> (runtime: Runtime, operation: StoreOperation, call: (store: IdempotencyStore) => Promise<T>, timeoutMs = runtime.settings.storeTimeoutMs, onLate?: (value: T) => void): Promise<T> {
  let pending: Promise<T>
  const metrics = runtime.metrics
  // A store call is a network round trip: timing it costs nothing in comparison.
  const startedAt = metrics === undefined ? 0 : performance.now()
  try {
    pending = call(runtime.settings.store)
  } catch (error) {
    pending = Promise.reject(error)
  }
  // The built-in memory store cannot hang: its calls skip the timeout
  // and the promise that carries it.
  const timed = runtime.inProcess
    ? pending
    : runtime.timeouts.run(pending, timeoutMs, () => new FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT(Math.round(timeoutMs)), onLate)
  // Without metrics, the store's own promise: no promise of ours per call.
  if (metrics === undefined) return timed
  return timed.then((result) => {
    metrics.storeCall(operation, (performance.now() - startedAt) / 1000, false)
    return result
  }, (error: unknown) => {
    metrics.storeCall(operation, (performance.now() - startedAt) / 1000, true)
    throw error
  })
}

/**
 * A call of the memory store, answered within the call: timed and counted
 * as {@link storeCall} does, without a promise.
 */
export function storeCallNow<T> (runtime: Runtime, operation: StoreOperation, call: (store: MemoryIdempotencyStore) => T): T {
  const store = runtime.settings.store as MemoryIdempotencyStore
  const metrics = runtime.metrics
  if (metrics === undefined) return call(store)
  const startedAt = performance.now()
  try {
    const result = call(store)
    metrics.storeCall(operation, (performance.now() - startedAt) / 1000, false)
    return result
  } catch (error) {
    metrics.storeCall(operation, (performance.now() - startedAt) / 1000, true)
    throw error
  }
}

export function renewLease (runtime: Runtime, lease: HeldLease): void {
  const { storeKey, owner, request } = lease
  storeCall(runtime, 'renew', (store) => store.renew(storeKey, owner, runtime.settings.leaseMs)).then((held) => {
    // Said once: renewing again cannot get it back, and renewals sent
    // while the store was slow come back lost together.
    if (held || !runtime.leases.drop(lease)) return
    request.log.warn('idempotency lease lost while the handler runs (it ran out, or another request took the key); the answer is stored only if no other request holds the key by then')
  }, (error: unknown) => {
    request.log.warn({ err: error }, 'idempotency lease could not be renewed')
  })
}

/** The key's fate is decided: no renewals, nothing kept running for it. */
function finish (request: FastifyRequest, claim: Claim, runtime: Runtime): void {
  claim.phase = 'done'
  runtime.leases.drop(claim.lease)
  stopKeepingHandler(request)
}

export async function releaseClaim (request: FastifyRequest, claim: Claim, runtime: Runtime, why: string): Promise<void> {
  finish(request, claim, runtime)
  try {
    await storeCall(runtime, 'release', (store) => store.release(claim.storeKey, claim.owner))
    request.log.info({ why }, 'idempotency key released; the client may retry')
  } catch (error) {
    request.log.warn({ err: error, why }, 'idempotency key could not be released; it frees itself when its lease runs out')
  }
}

/** The reply's headers a replay sends: those allowed, and those that mark the answer degraded (`marks`). */
function storedHeaders (replyHeaders: ReplySnapshot['headers'], allowed: ReadonlySet<string>, marks: readonly string[] | null = null): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(replyHeaders)) {
    const lower = name.toLowerCase()
    if ((!allowed.has(lower) && marks?.includes(lower) !== true) || value === undefined) continue
    headers[lower] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return headers
}

/** Why a response is not stored, or undefined when it is. */
function notStorableBecause (status: number, payload: unknown, settings: ResolvedIdempotencyOptions): string | undefined {
  if (status >= 500 && !settings.storeServerErrors) return `status ${status}`
  // Too many requests: nothing was done, and a replay would repeat the refusal
  // long after the limit cleared, without the Retry-After that said when.
  if (status === 429) return 'status 429, the request was refused, not processed'
  if (streamedBody(payload) !== undefined) return 'the body is a stream'
  if (payload !== undefined && payload !== null && typeof payload !== 'string' && !Buffer.isBuffer(payload)) return 'the body is not serialised'
  const size = payload === undefined || payload === null ? 0 : Buffer.byteLength(payload as string | Buffer)
  if (size > settings.maxBodyBytes) return `the body is ${size} bytes, over maxBodyBytes (${settings.maxBodyBytes})`
  return undefined
}

/**
 * Sends a stored answer again. Its headers are chosen again from the
 * `replayable` names, whatever store it comes from: a record may have been
 * written under another allow-list, or by anything with access to the
 * store, and a replay must never send credentials or a session.
 */
export function replay (reply: FastifyReply, response: KeptResponse, replayable: ReadonlySet<string>): FastifyReply {
  reply.code(response.status)
  const { body } = response
  const headers = replayableHeaders(response.headers, replayable)
  for (const name in headers) reply.header(name, headers[name])
  reply.header(REPLAY_HEADER, 'true')
  if (headers['content-type'] === undefined) {
    // No body and no type, as a reply.send() without a payload first went
    // out: Fastify would type an empty Buffer application/octet-stream.
    if (body.length === 0) return reply.send()
    // Text goes out as the bytes it was first sent as: Fastify would label
    // a string text/plain, a Buffer application/octet-stream.
    if (typeof body === 'string') return reply.send(Buffer.from(body))
  }
  return reply.send(body)
}

const LEASE_LOST = 'idempotency lease was lost before the response could be stored; a later request owns the key'
const NOT_STORED = 'idempotent response could not be stored before its lease ran out; the key frees itself'
const NOT_STORED_YET = 'idempotent response could not be stored yet; the answer is sent, and the store is tried again until the lease runs out'
/** The first wait before a failed store call is tried again, doubled each time up to the longest. */
const STORE_AGAIN_FIRST_MS = 100
const STORE_AGAIN_LONGEST_MS = 2000
// A store call that timed out may still be carried out: Redis paused, not gone.
const NOT_CONFIRMED = 'idempotent response not confirmed stored within storeTimeoutMs; if the store did not keep it, the key frees itself when its lease runs out'

async function storeResponse (request: FastifyRequest, claim: Claim, runtime: Runtime, response: KeptResponse): Promise<void> {
  finish(request, claim, runtime)
  try {
    const stored = await storeCall(runtime, 'complete', completeCall(claim, response), undefined, (late) => {
      if (late) request.log.info('idempotent response stored after all, after its store call timed out')
      else request.log.warn(LEASE_LOST)
    })
    if (!stored) request.log.warn(LEASE_LOST)
  } catch (error) {
    if (error instanceof FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT) {
      request.log.warn({ err: error }, NOT_CONFIRMED)
      return
    }
    request.log.warn({ err: error }, NOT_STORED_YET)
    storeAgainInBackground(request, claim, runtime, response)
  }
}

function completeCall (claim: Claim, response: KeptResponse): (store: IdempotencyStore) => Promise<boolean> {
  // A text body only reaches a store that keeps text (keepsText).
  return (store) => store.complete(claim.storeKey, claim.owner, response as StoredResponse, claim.ttlMs, claim.fingerprint)
}

/**
 * Tries a failed store call again, waiting longer each time, until the
 * lease runs out. The handler ran: with its answer left unstored, the key
 * frees itself at the lease's end, and a retry after that runs the
 * handler a second time. A Redis restarted while handlers finish (a
 * failover, a deploy) made every such write run twice. The store's
 * complete is safe to send again: it stores only for the key's owner, or
 * for a key nobody holds, and answers yes to its owner's repeat. Timers
 * are unref'd: they do not keep a closing process alive.
 */
function storeAgainInBackground (request: FastifyRequest, claim: Claim, runtime: Runtime, response: KeptResponse): void {
  const giveUpAt = performance.now() + runtime.settings.leaseMs
  let waitMs = STORE_AGAIN_FIRST_MS
  let attempts = 1
  const tryAgain = (): void => {
    attempts++
    storeCall(runtime, 'complete', completeCall(claim, response)).then((stored) => {
      if (stored) request.log.info({ attempts }, 'idempotent response stored on a later attempt')
      else request.log.warn(LEASE_LOST)
    }, (error: unknown) => {
      waitMs = Math.min(STORE_AGAIN_LONGEST_MS, waitMs * 2)
      if (performance.now() + waitMs >= giveUpAt) request.log.error({ err: error, attempts }, NOT_STORED)
      else setTimeout(tryAgain, waitMs).unref()
    })
  }
  setTimeout(tryAgain, waitMs).unref()
}

/** {@link storeResponse} for the memory store: within the call, no promise. */
function storeResponseNow (request: FastifyRequest, claim: Claim, runtime: Runtime, response: KeptResponse): void {
  finish(request, claim, runtime)
  try {
    // The response was built for the store alone: it keeps it without a copy.
    if (!storeCallNow(runtime, 'complete', (store) => store.completeNow(claim.storeKey, claim.owner, response, claim.ttlMs, claim.fingerprint))) request.log.warn(LEASE_LOST)
  } catch (error) {
    request.log.error({ err: error }, NOT_STORED)
  }
}

/**
 * Stores what the reply is sending, or releases the key when it cannot be
 * replayed. Undefined when done within the call (the memory store), the
 * promise of it otherwise. An answer the handler gave `afterDeadline` is
 * logged here, where its fate is decided.
 */
function storeOrRelease (request: FastifyRequest, claim: Claim, runtime: Runtime, status: number, headers: Record<string, string>, payload: unknown, coding: unknown, afterDeadline: boolean): Promise<void> | undefined {
  const { settings } = runtime
  let reason = notStorableBecause(status, payload, settings)
  if (reason === undefined && coding !== undefined && coding !== 'identity' && (typeof payload === 'string' || Buffer.isBuffer(payload)) && payload.length > 0) {
    // Encoded before this plugin's onSend (a compression plugin registered
    // first): the store keeps the answer as the handler gave it.
    const decoded = decodedBody(payload, String(coding), settings.maxBodyBytes)
    if (decoded === undefined) reason = `the body is encoded (content-encoding: ${String(coding)}) in a coding this plugin cannot undo, or inflates past maxBodyBytes (${settings.maxBodyBytes})`
    payload = decoded
    delete headers['content-encoding']
  }
  if (reason !== undefined) {
    if (afterDeadline) request.log.info({ statusCode: status, why: reason }, 'handler answered after its deadline; its answer is not stored')
    if (reason.startsWith('the body')) request.log.warn({ why: reason }, 'response not stored for idempotent replay')
    return releaseClaim(request, claim, runtime, reason)
  }
  if (afterDeadline) request.log.info({ statusCode: status }, 'handler answered after its deadline; its answer is stored for the retry')
  const sent = payload === undefined || payload === null ? '' : payload as string | Buffer
  if (!runtime.inProcess) return storeResponse(request, claim, runtime, { status, headers, body: runtime.keepsText && typeof sent === 'string' ? sent : Buffer.from(sent) })
  // The memory store keeps text as it is: a string cannot change, and
  // encoding it into a Buffer for every answer cost more than the store.
  // A Buffer is copied, since the application may reuse it.
  storeResponseNow(request, claim, runtime, { status, headers, body: typeof sent === 'string' ? sent : Buffer.from(sent) })
  return undefined
}

/** {@link storeOrRelease} for the answer the reply is sending now, as the handler set it. */
function storeWhatIsSent (request: FastifyRequest, reply: FastifyReply, claim: Claim, runtime: Runtime, payload: unknown): Promise<void> | undefined {
  const headers = storedHeaders(reply.getHeaders(), runtime.settings.replayHeaders, stateOf(request)?.degradedHeaders)
  return storeOrRelease(request, claim, runtime, reply.statusCode, headers, payload, reply.getHeader('content-encoding'), false)
}

export function createOnSend (runtime: Runtime) {
  const { settings } = runtime
  // A callback hook rather than an async one: answers that hold no claim
  // (replays, refusals) pass through without a promise.
  return function idempotencyOnSend (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: unknown, payload?: unknown) => void): void {
    const claim = claimOf(request)
    if (claim === null) {
      done(null, payload)
      return
    }
    let work: Promise<void> | undefined
    switch (claim.phase) {
      case 'done':
        if (claim.storing) {
          request.log.debug('a second send while the answer is being stored is dropped; return the reply from an async handler that calls reply.send()')
          return
        }
        done(null, payload)
        return
      case 'detached':
        done(null, payload)
        return
      case 'claimed':
        work = releaseClaim(request, claim, runtime, 'answered before the handler ran (by another hook)')
        break
      case 'running':
        if (claim.replyBeforeDeadline !== null || (reply.statusCode >= 500 && !settings.storeServerErrors)) {
          // Answered while the handler still runs (the deadline's 504): the
          // key stays held, and the handler's own outcome decides it.
          detach(request, reply, claim, runtime)
          done(null, payload)
          return
        }
        work = storeWhatIsSent(request, reply, claim, runtime, payload)
        break
      case 'settled':
        if (claim.replyBeforeDeadline !== null) {
          // The handler returned without answering (a callback handler, or
          // one that returned the reply) and the deadline answers in its
          // place: the answer it sends later is the one to store.
          detach(request, reply, claim, runtime)
          done(null, payload)
          return
        }
        work = storeWhatIsSent(request, reply, claim, runtime, payload)
        break
    }
    if (work === undefined) {
      done(null, payload)
      return
    }
    claim.storing = true
    work.then(() => {
      claim.storing = false
      done(null, payload)
    }, (error: unknown) => {
      claim.storing = false
      done(error)
    }).catch((error: unknown) => {
      // Writing the answer failed inside Fastify: logged, never an
      // unhandled rejection that ends the process.
      request.log.error({ err: error }, 'the answer could not be written after it was stored')
    })
  }
}

function detach (request: FastifyRequest, reply: FastifyReply, claim: Claim, runtime: Runtime): void {
  claim.phase = 'detached'
  if (claim.replyBeforeDeadline === null) return
  claim.replyAfterDeadline = { statusCode: reply.statusCode, headers: reply.getHeaders() }
  // The handler may still answer with reply.send(); Fastify would drop that
  // answer (the reply is sent), so this reply's send stores it instead.
  const lateSend = function sendAfterDeadline (this: FastifyReply, payload?: unknown): FastifyReply {
    storeLateAnswer(request, reply, claim, runtime, payload)
    return this
  }
  ;(reply as { send: (payload?: unknown) => FastifyReply }).send = lateSend
}

function releaseInBackground (request: FastifyRequest, claim: Claim, runtime: Runtime, why: string): void {
  releaseClaim(request, claim, runtime, why).catch((error: unknown) => {
    request.log.error({ err: error }, 'releasing an idempotency key failed')
  })
}

/**
 * The handler's own answer, after the deadline answered in its place:
 * stored with what the handler set on the reply, before the 504 and after
 * it, so that every retry gets what the handler meant to send.
 */
function storeLateAnswer (request: FastifyRequest, reply: FastifyReply, claim: Claim, runtime: Runtime, payload: unknown): void {
  const before = claim.replyBeforeDeadline
  const after = claim.replyAfterDeadline
  if (claim.phase !== 'detached' || before === null || after === null) return
  if (payload instanceof Error) {
    releaseInBackground(request, claim, runtime, 'the handler failed after its deadline')
    return
  }
  const now = reply.getHeaders()
  const headers = { ...before.headers }
  for (const [name, value] of Object.entries(now)) {
    if (value !== after.headers[name]) headers[name] = value
  }
  const statusCode = reply.statusCode !== after.statusCode ? reply.statusCode : before.statusCode
  const body = lateBody(reply, payload, statusCode)
  if (headers['content-type'] === undefined && body.contentType !== undefined) headers['content-type'] = body.contentType
  storeOrRelease(request, claim, runtime, statusCode, storedHeaders(headers, runtime.settings.replayHeaders), body.payload, headers['content-encoding'], true)?.catch((error: unknown) => {
    request.log.error({ err: error }, 'storing a late idempotent answer failed')
  })
  // The 504 went out in its place and Fastify will not send it: nobody
  // reads a streamed answer, which would hold its file or producer.
  discardStreamIn(payload)
}

/** The bytes Fastify would have sent for a payload, and the content type it would have given them. */
function lateBody (reply: FastifyReply, payload: unknown, statusCode: number): { payload: unknown, contentType?: string } {
  // No payload goes out without a type; null is serialised, as Fastify does.
  if (payload === undefined) return { payload }
  if (typeof payload === 'string') return { payload, contentType: 'text/plain; charset=utf-8' }
  if (Buffer.isBuffer(payload)) return { payload, contentType: 'application/octet-stream' }
  // A web stream or a Response would be serialised as `{}` and stored as the answer.
  if (streamedBody(payload) !== undefined) return { payload }
  // Serialised as for its own status: the route's response schema for that
  // status, or the route's serializer.
  const raw = reply.raw
  const deadlineStatus = raw.statusCode
  raw.statusCode = statusCode
  try {
    return { payload: reply.serialize(payload), contentType: 'application/json; charset=utf-8' }
  } finally {
    raw.statusCode = deadlineStatus
  }
}

/**
 * The connection closed before the handler started: no handler will answer
 * for the key (the deadline takes the reply over), so it is released.
 * Once the handler runs, the request keeps the key until it settles.
 */
export function releaseIfAbandoned (request: FastifyRequest, claim: Claim, runtime: Runtime): void {
  if (claim.phase === 'claimed') releaseInBackground(request, claim, runtime, 'the client left before the handler started')
}

function handlerSettled (request: FastifyRequest, reply: FastifyReply, runtime: Runtime, outcome: { value: unknown } | undefined): void {
  const claim = claimOf(request)
  if (claim === null) return
  switch (claim.phase) {
    case 'running':
      // Still kept: an answer sent later from a callback must reach onSend
      // even if the client leaves meanwhile.
      claim.phase = 'settled'
      if (reply.sent) {
        // Hijacked: no answer will pass onSend.
        releaseInBackground(request, claim, runtime, 'the request ended without a storable answer')
      } else if (claim.failedAfterAnswer) {
        // It failed after its client left, and the deadline dropped the
        // failure: nothing was done, and the retry runs it.
        releaseInBackground(request, claim, runtime, 'the handler failed after its client left')
      }
      // Otherwise an empty result is no answer yet: a callback may still
      // send one (a returned reply settles when its client leaves), and
      // the key stays held until it does.
      return
    case 'detached': {
      const failed = outcome === undefined || claim.failedAfterAnswer
      if (failed || claim.replyBeforeDeadline === null) {
        releaseInBackground(request, claim, runtime, failed ? 'the handler failed after its request was answered' : 'the request ended without a storable answer')
        return
      }
      if (outcome.value === undefined || outcome.value === reply) {
        // No answer yet, which is not the end of it: a callback may still
        // send one (a returned reply settles when the 504 goes out). The key
        // stays held until it does; released, a retry would run the handler
        // again while this one may still do its work.
        request.log.info('handler returned without an answer after its deadline; its key stays held until it sends one')
        return
      }
      storeLateAnswer(request, reply, claim, runtime, outcome.value)
    }
  }
}

/**
 * Follows the handler: from its start the request keeps its key, even if
 * its client leaves or its deadline answers first, and the handler's own
 * outcome decides what the key keeps.
 */
export function trackSettlement (handler: RouteHandlerMethod, runtime: Runtime): RouteHandlerMethod {
  return function idempotentHandler (this: FastifyInstance, request, reply) {
    const claim = claimOf(request)
    if (claim !== null) {
      if (claim.phase === 'done') {
        // The client left before the handler could start and the key was
        // released: running it now would race a retry.
        request.log.info('idempotent request not run: its client left and its key was released')
        reply.hijack()
        return undefined
      }
      claim.phase = 'running'
      keepHandlerRunning(request, claim)
    }
    let result: unknown
    try {
      result = handler.call(this, request, reply)
    } catch (error) {
      handlerSettled(request, reply, runtime, undefined)
      throw error
    }
    if (typeof (result as Promise<unknown> | undefined)?.then !== 'function') {
      handlerSettled(request, reply, runtime, { value: result })
      return result
    }
    return (result as Promise<unknown>).then((value) => {
      handlerSettled(request, reply, runtime, { value })
      return value
    }, (error: unknown) => {
      const answered = claim !== null && claim.phase === 'done'
      handlerSettled(request, reply, runtime, undefined)
      if (answered) {
        // The answer is already on its way (and stored): a second, error
        // answer would reach the client while retries replay the first.
        request.log.error({ err: error }, 'handler failed after it answered; the answer stands')
        return reply
      }
      throw error
    })
  }
}
