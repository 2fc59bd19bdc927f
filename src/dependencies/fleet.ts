import { randomUUID } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import type { RedisClient } from '../redis-client.js'
import type { Breaker, BreakerStateName, Transition } from './breaker.js'

/** The logger methods the fleet uses (pino's shape). */
export interface FleetLogger {
  warn: (object: object, message: string) => void
  info: (object: object, message: string) => void
}

export interface RedisBreakerFleetOptions {
  client: RedisClient
  prefix: string
  syncMs: number
  /** The dependency's name. */
  name: string
  breaker: Breaker
  log: FleetLogger
}

const OPEN = 'open'
const CLOSED = 'closed'

/**
 * One dependency's breaker shared by every instance through Redis.
 *
 * - An instance whose breaker opens writes `open` with the open period as
 *   the key's expiry (a relative time, immune to clock skew); the others
 *   read it every `syncMs` and open too, for what is left of the period.
 * - When the period has passed, only the instance that takes the probe
 *   lease (`SET NX`) half-opens and probes; the others stay open. Its
 *   breaker closing writes `closed`, which closes the others; a failed
 *   probe writes `open` again.
 * - Keys share a hash tag per dependency, for Redis Cluster.
 * - Redis unreachable: every instance keeps its local breaker (the probe
 *   gate opens), logs it once, and logs once when Redis answers again.
 */
export class RedisBreakerFleet {
  readonly #client: Redis | Cluster
  readonly #stateKey: string
  readonly #probeKey: string
  readonly #syncMs: number
  readonly #breaker: Breaker
  readonly #log: FleetLogger
  readonly #name: string
  readonly #id = randomUUID()
  #timer: NodeJS.Timeout | undefined
  #syncing = false
  #reachable = true
  #probeGranted = false
  /** A transition happened while the client was not connected, so the fleet has not heard of it. */
  #unpublished = false

  constructor (options: RedisBreakerFleetOptions) {
    this.#client = options.client as unknown as Redis | Cluster
    const tag = `${options.prefix}{${options.name}}`
    this.#stateKey = `${tag}:state`
    this.#probeKey = `${tag}:probe`
    this.#syncMs = options.syncMs
    this.#breaker = options.breaker
    this.#log = options.log
    this.#name = options.name
    this.#breaker.setHalfOpenGate(() => {
      if (!this.#reachable) return true
      const granted = this.#probeGranted
      this.#probeGranted = false
      return granted
    })
    this.#breaker.onTransition((transition) => { this.#publish(transition) })
  }

  get reachable (): boolean {
    return this.#reachable
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => { this.sync().catch(() => {}) }, this.#syncMs)
    // Background work no request waits on: it must not keep the process alive.
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Reads the fleet's state once and brings the local breaker in line; also takes the probe lease when it is time. */
  async sync (): Promise<void> {
    if (this.#syncing) return
    this.#syncing = true
    try {
      const [value, ttlMs] = await this.#bounded(Promise.all([this.#client.get(this.#stateKey), this.#client.pttl(this.#stateKey)]))
      const wasReachable = this.#reachable
      this.#markReachable(true, undefined)
      const breaker = this.#breaker
      if (!wasReachable || this.#unpublished) {
        // Back after an outage, what Redis holds may be a write of ours that
        // waited out the outage in the connection and landed late (an open
        // period that has long passed here): what this instance saw on its
        // own wins, and the fleet follows it, or the next breaker to open.
        // The same goes for a transition made before the client first
        // connected, which was never written at all.
        this.#unpublished = false
        this.#republish()
        return
      }
      const state = breaker.state
      if (value === OPEN && ttlMs > 0) {
        breaker.openFromFleet(ttlMs)
      } else if (value === CLOSED) {
        // Close only a breaker this instance did not open itself just now.
        if (state.kind === 'open' && (state.external || breaker.openRemainingMs() === 0)) breaker.closeFromFleet()
      } else if (state.kind === 'open' && breaker.openRemainingMs() === 0 && !this.#probeGranted) {
        const lease = await this.#bounded(this.#client.set(this.#probeKey, this.#id, 'PX', Math.max(4 * this.#syncMs, 1000), 'NX'))
        this.#probeGranted = lease === 'OK'
      }
    } catch (error) {
      this.#markReachable(false, error)
    } finally {
      this.#syncing = false
    }
  }

  #publish (transition: Transition): void {
    if (transition.external) return
    this.#write(transition.to, transition.openMs ?? this.#syncMs)
  }

  /** Writes the local breaker's state, as it is now, for the fleet. */
  #republish (): void {
    const state = this.#breaker.state
    if (state.kind === 'open' && !state.external) this.#write('open', this.#breaker.openRemainingMs())
    else if (state.kind === 'closed') this.#write('closed', 0)
  }

  #write (to: BreakerStateName, openMs: number): void {
    // A client that is not connected would queue the write and send it
    // whenever it reconnects, with an open period long over by then.
    if (!this.#reachable || this.#client.status !== 'ready') {
      this.#unpublished = true
      return
    }
    const client = this.#client
    let write: Promise<unknown>
    if (to === 'open') {
      write = client.set(this.#stateKey, OPEN, 'PX', Math.max(1, Math.round(openMs)))
    } else if (to === 'closed') {
      // Long enough for every instance to read it at least a few times.
      write = client.multi().set(this.#stateKey, CLOSED, 'PX', Math.max(10 * this.#syncMs, 5000)).del(this.#probeKey).exec()
    } else {
      return
    }
    this.#bounded(write).catch((error: unknown) => { this.#markReachable(false, error) })
  }

  /** ioredis queues commands while disconnected; a fleet read that does not answer within a few syncs counts as unreachable. */
  #bounded<T> (promise: Promise<T>): Promise<T> {
    promise.catch(() => {})
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('the fleet state did not answer in time')) }, Math.max(4 * this.#syncMs, 500))
      // Unref'd: it bounds the background sync and the breaker's published
      // writes, which no request awaits; cleared when the command settles.
      timer.unref()
      promise.then((value) => { clearTimeout(timer); resolve(value) }, (error: unknown) => { clearTimeout(timer); reject(error) })
    })
  }

  #markReachable (reachable: boolean, error: unknown): void {
    if (reachable === this.#reachable) return
    this.#reachable = reachable
    if (reachable) {
      this.#log.info({ dependency: this.#name }, 'dependency fleet state reachable again; the breaker follows the fleet')
    } else {
      this.#probeGranted = false
      this.#log.warn({ dependency: this.#name, err: error }, 'dependency fleet state unreachable; the breaker works locally')
    }
  }
}
