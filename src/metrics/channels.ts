import { channel } from 'node:diagnostics_channel'

/*
 * The decisions of each capability, published on diagnostics_channel so
 * that tracers and APM agents can subscribe without this library depending
 * on them. A message is built only when someone subscribed
 * (`hasSubscribers`), so an idle channel costs one property read.
 */

/** `fastify-resilience:shed`: a request was refused by load shedding. */
export interface ShedMessage<Request = unknown> {
  request: Request
  /** Route template with its method, e.g. `GET /orders/:id`. */
  route: string
  reason: string
  priority: string
  retryAfterSeconds: number
}

/** `fastify-resilience:deadline-expired`: a request ran out of time and was answered 504, or its streamed answer was cut. */
export interface DeadlineExpiredMessage<Request = unknown> {
  request: Request
  route: string
  timeoutMs: number
}

/** `fastify-resilience:idempotency-replayed`: a completed request's answer was replayed to a retry. */
export interface ReplayedMessage<Request = unknown> {
  request: Request
  route: string
  statusCode: number
}

/** `fastify-resilience:fault-injected`: chaos injected a fault into a request. */
export interface FaultInjectedMessage<Request = unknown> {
  request: Request
  route: string
  type: string
  /** `route`, `header` or the experiment's name. */
  source: string
}

/**
 * `fastify-resilience:dependency:state`: a dependency's circuit breaker
 * changed state (no request: a breaker changes state between requests).
 */
export interface BreakerStateMessage {
  dependency: string
  from: 'closed' | 'open' | 'half-open'
  to: 'closed' | 'open' | 'half-open'
  /** For `open`: how long it stays open. */
  openMs?: number
  /** The change came from another instance through the fleet state. */
  fromFleet: boolean
}

/** The `diagnostics_channel` names on which each capability publishes its decisions. */
export const CHANNEL_NAMES = {
  shed: 'fastify-resilience:shed',
  deadlineExpired: 'fastify-resilience:deadline-expired',
  replayed: 'fastify-resilience:idempotency-replayed',
  faultInjected: 'fastify-resilience:fault-injected',
  breakerStateChanged: 'fastify-resilience:dependency:state',
} as const

export const shedChannel = channel(CHANNEL_NAMES.shed)
export const deadlineExpiredChannel = channel(CHANNEL_NAMES.deadlineExpired)
export const replayedChannel = channel(CHANNEL_NAMES.replayed)
export const faultInjectedChannel = channel(CHANNEL_NAMES.faultInjected)
