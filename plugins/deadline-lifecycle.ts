import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import { isErrored } from 'node:stream'
import { ConnectionTracker } from '../src/connection/tracker.js'
import type { Deadline, DeadlineQueue } from '../src/deadline/index.js'
import { discardStreamIn, streamedBody } from '../src/payload.js'
import { deadlineExpiredChannel } from '../src/metrics/channels.js'
import type { DeadlineExpiredMessage } from '../src/metrics/channels.js'
import { keptHandler, reportUnanswered } from './outcome-marks.js'
import { cutShort } from './cut-short.js'
import { isWebsocketUpgrade } from './route-options.js'
import { stateOf } from './request-state.js'

/*
 * The life of one request's deadline after it is created: arming it at
 * the end of its arrival turn, watching for the client leaving, enforcing
 * it (504, abort, cutting streams) and releasing it once an answer exists.
 * Everything here needs nothing but the reply, so it serves every
 * instance of the plugin.
 */

const kReply = Symbol('fastify-resilience.reply')

interface ReplyCarrier {
  [kReply]?: FastifyReply
}

interface Http2Response {
  stream?: { destroyed: boolean, closed: boolean }
}

export function deadlineOf (request: FastifyRequest): Deadline | null {
  return stateOf(request)?.deadline ?? null
}

/**
 * Replies whose answer is a stream, with the stream its body is read from:
 * the deadline keeps bounding them until the body is written, and at the
 * deadline the connection is cut. The stream tells, when the connection
 * closes early, whether the server's side failed or the client left.
 */
const streaming = new WeakMap<FastifyReply, object>()

/**
 * One tracker for every instance of the plugin: what it calls back needs
 * nothing but the reply, and one listener per connection is all it costs.
 */
const connections = new ConnectionTracker<FastifyReply>(onConnectionClosed)

/** The deadline no longer applies: clears its timers and stops watching the client. */
function release (reply: FastifyReply): void {
  const deadline = deadlineOf(reply.request)
  if (deadline === null) return
  deadline.finish()
  const raw = reply.request.raw
  if (raw.httpVersionMajor === 1) connections.delete(raw.socket, reply)
}

/** 'finish' listener of responses released only once written; `this` is the raw response. */
function releaseWritten (this: ServerResponse & ReplyCarrier): void {
  const reply = this[kReply]
  if (reply !== undefined) release(reply)
}

function releaseWhenWritten (reply: FastifyReply): void {
  (reply.raw as ServerResponse & ReplyCarrier)[kReply] = reply
  reply.raw.once('finish', releaseWritten)
}

/** Timer callback: must never throw, it runs outside any request's error handling. */
export function onDeadlinePassed (reply: FastifyReply): void {
  try {
    enforceDeadline(reply)
  } catch (error) {
    reply.log.error({ err: error }, 'the deadline could not be enforced')
  }
}

function enforceDeadline (reply: FastifyReply): void {
  const request = reply.request
  const deadline = deadlineOf(request)
  if (deadline === null) return
  if (reply.raw.writableEnded) {
    release(reply)
    return
  }
  const kept = keptHandler(request)
  // The handler runs on for an idempotent retry: what it had set on the
  // reply is kept for its own answer, which the 504 is about to overwrite.
  if (kept !== undefined) kept.replyBeforeDeadline = { statusCode: reply.statusCode, headers: reply.getHeaders() }
  deadline.expire()
  // Nothing is left to watch the client for: a keep-alive connection must
  // not hold every request it carried that ended in a 504.
  release(reply)
  // An abort listener may have answered by itself. A response already under
  // way (a stream, or one taken over with reply.hijack()) cannot turn into
  // a problem; it is cut short, and so is a websocket taken over by
  // @fastify/websocket (its route's config.deadline asked for it).
  const answered = reply.raw.writableEnded
  const websocket = reply.sent && isWebsocketUpgrade(request)
  const underWay = !answered && (reply.raw.headersSent || reply.sent || streaming.has(reply))
  request.log.warn({ timeoutMs: deadline.timeoutMs }, websocket ? 'deadline exceeded; websocket connection cut' : answered ? 'deadline exceeded; the request was answered as its work was aborted' : underWay ? 'deadline exceeded; the answer under way is cut' : 'deadline exceeded; answering 504')
  if (deadlineExpiredChannel.hasSubscribers) {
    deadlineExpiredChannel.publish({ request, route: `${request.method} ${request.routeOptions.url ?? ''}`, timeoutMs: deadline.timeoutMs } satisfies DeadlineExpiredMessage<FastifyRequest>)
  }
  if (answered) return
  if (underWay) {
    cutShort(reply.raw)
    return
  }
  try {
    reply.problem({
      type: 'deadline-exceeded',
      detail: `The request did not complete within its deadline of ${Math.round(deadline.timeoutMs)} ms.`,
      timeoutMs: Math.round(deadline.timeoutMs),
    })
  } catch (error) {
    // Fastify refuses a send while onError hooks run: the error response
    // being prepared is the answer.
    request.log.debug({ err: error }, 'deadline passed while an error response was being prepared')
    return
  }
  // Tells Fastify that the handler's eventual result must not be sent.
  reply.hijack()
  // What the handler sends later goes nowhere; a stream in it is let go.
  // A capability that keeps that answer (idempotency) has put its own send
  // on this reply already, and keeps it.
  if (!Object.hasOwn(reply, 'send')) reply.send = sendAfterDeadline
}

function onConnectionClosed (reply: FastifyReply): void {
  const request = reply.request
  const deadline = deadlineOf(request)
  if (deadline === null) return
  // writableEnded, not writableFinished: HTTP/2 reports a reset stream as
  // finished although nothing was sent on it.
  if (reply.raw.writableEnded || deadline.outcome !== 'pending') {
    release(reply)
    return
  }
  const body = streaming.get(reply)
  if (body !== undefined && isErrored(body as NodeJS.ReadableStream)) {
    // The stream failed mid-body and Fastify cut the response (and logged
    // the stream's error): the server broke off, not the client, and the
    // deadline has nothing left to bound.
    release(reply)
    return
  }
  if (keptHandler(request) !== undefined) {
    // The request holds an idempotency key: the client will retry with it,
    // so the handler runs on (bounded by the deadline) and its answer is
    // stored for that retry instead of being thrown away.
    request.log.info('client closed the connection before the response; the request holds an idempotency key, so its handler runs on for the retry')
    return
  }
  deadline.clientClosed()
  if (reply.sent && isWebsocketUpgrade(request)) {
    // A websocket's connection closes when its conversation ends: with a
    // deadline of its own, that is its normal end, not a client that left.
    request.log.debug('websocket closed before its deadline; its signal aborted')
    return
  }
  if (body !== undefined) {
    // The stream goes through onSend whatever happens to its connection
    // (Fastify destroys it there if it cannot be written), and whoever
    // counts answers counts it once its response closes: nothing is left
    // to report here, nor to keep from being sent.
    request.log.info('client closed the connection before the streamed answer was complete; its work was aborted')
    return
  }
  request.log.info('client closed the connection before the response; its work was aborted')
  if (!reply.sent) {
    // No answer will pass onSend: whoever counts answers hears of it here.
    reportUnanswered(request, reply)
    hijackLeavingRequestClose(reply)
    // Set on this reply alone: what is sent on it from now on goes nowhere.
    reply.send = sendAfterClientLeft
  }
}

/**
 * reply.hijack(), so that the handler's eventual result is not sent, minus
 * what it does to Fastify's own `request.signal`: hijack() takes away the
 * request stream's 'close' listener that aborts that signal. Over HTTP/1
 * the connection's 'close', which brings us here, comes a few ticks before
 * the request stream's, so without this the application's signal would
 * never hear that its client left. The listeners hijack() removed are put
 * back; over HTTP/2 the request stream has closed already and they stay
 * quiet.
 */
function hijackLeavingRequestClose (reply: FastifyReply): void {
  const raw = reply.request.raw
  const listening = raw.listeners('close')
  reply.hijack()
  if (raw.listenerCount('close') === listening.length) return
  const left = new Set(raw.listeners('close'))
  for (const listener of listening) {
    if (!left.has(listener)) raw.on('close', listener as (...args: unknown[]) => void)
  }
}

/**
 * `send` of a reply given up on because its client left. The hijack keeps
 * Fastify from sending the handler's result, but some still call
 * reply.send() on it, and Fastify warns "Reply was already sent" on a
 * hijacked reply: its body parser, whose failure on a body the client
 * stopped sending it answers with reply.send(error) without looking at
 * reply.sent (its hook runners look), and a handler that answers with
 * reply.send() without knowing its client left. Without this plugin both
 * write to the closed socket and nothing is logged: an ordinary client
 * abort must not log a warning here either. Nothing sent now can reach
 * anyone, nor be counted a second time.
 */
/** A reply's `send` for an answer that can no longer go out, saying `why` in a debug line. */
function answerDropper (why: string) {
  return function dropAnswer (this: FastifyReply, payload?: unknown): FastifyReply {
    // Fastify destroys a stream it cannot write; one left unread would hold its file or socket.
    discardStreamIn(payload)
    this.log.debug(payload instanceof Error ? { err: payload } : {}, `answer dropped: ${why}`)
    return this
  }
}

const sendAfterClientLeft = answerDropper('its client had left')
const sendAfterDeadline = answerDropper('the deadline answered in its place')

/** The response's 'close' listener (HTTP/2); `this` is the raw response. */
function onResponseClose (this: ServerResponse & ReplyCarrier): void {
  const reply = this[kReply]
  if (reply !== undefined) onConnectionClosed(reply)
}

/**
 * Watches for the client leaving: per connection over HTTP/1 (a client can
 * only leave by closing it), per response over HTTP/2 (a stream can be
 * reset while its connection lives on).
 */
function watchClient (reply: FastifyReply): void {
  const raw = reply.request.raw
  if (raw.httpVersionMajor === 1) {
    connections.add(raw.socket, reply)
    return
  }
  const stream = (reply.raw as unknown as Http2Response).stream
  if (stream === undefined || stream.destroyed || stream.closed) {
    onConnectionClosed(reply)
    return
  }
  (reply.raw as ServerResponse & ReplyCarrier)[kReply] = reply
  reply.raw.on('close', onResponseClose)
}

/** Arms a deadline that is still running at the end of its arrival turn. */
export function arm (reply: FastifyReply, queues: ReadonlyMap<number, DeadlineQueue<FastifyReply>>): void {
  const deadline = deadlineOf(reply.request)
  if (deadline === null || deadline.outcome !== 'pending') return
  if (reply.raw.writableEnded) {
    // Hijacked and already answered: nothing left to bound.
    deadline.finish()
    return
  }
  // A route-length deadline joins its route's queue; a caller's shorter
  // budget gets a timer of its own.
  const queue = queues.get(deadline.timeoutMs)
  if (queue === undefined) deadline.start(onDeadlinePassed, reply)
  else deadline.join(queue, reply)
  watchClient(reply)
  // A hijacked reply never reaches onSend; release it once it is written.
  if (reply.sent) releaseWhenWritten(reply)
}

/**
 * Once an answer exists the deadline no longer applies: a response on its
 * way is not replaced by a 504. A streamed answer stays bounded until it
 * is written.
 */
export function markAnswered (reply: FastifyReply, answer: unknown): void {
  const deadline = deadlineOf(reply.request)
  if (deadline === null) return
  if (deadline.outcome !== 'pending') {
    // The handler's result after the request ended (a 504 in its place, or
    // a client gone): Fastify drops it, and a stream in it is never read.
    discardStreamIn(answer)
    return
  }
  const body = streamedBody(answer)
  if (body !== undefined) {
    if (!streaming.has(reply)) releaseWhenWritten(reply)
    // The latest seen: an onSend hook may have put another stream in its place.
    streaming.set(reply, body)
    return
  }
  if (!streaming.has(reply)) release(reply)
}
