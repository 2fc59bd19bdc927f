import { Buffer } from 'node:buffer'
import type { Clock } from '../clock.js'
import { monotonicClock } from '../clock.js'
import { FRS_ERR_IDEMPOTENCY_STORE_FULL } from '../errors.js'
import type { ClaimOutcome, IdempotencyStore, KeptResponse, StoredResponse } from './store.js'

/**
 * A key held by the store: claimed (with its owner) until it has a
 * response, completed after. One shape for both, so that completing a
 * claim changes the entry in place rather than replacing it in the map.
 */
interface Entry {
  key: string
  /** Links of the list that keeps entries in the order they were written. */
  older: Entry | undefined
  newer: Entry | undefined
  fingerprint: string
  /** The claim's holder; empty once completed. */
  owner: string
  /** Set once completed; until then the key is claimed. */
  response: KeptResponse | undefined
  expiresAt: number
}

const ACQUIRED: ClaimOutcome = Object.freeze({ kind: 'acquired' })

/** Options of {@link MemoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /**
   * Keys kept at most, claimed and completed together. When full, the
   * oldest key that has expired or completed goes; claims in flight are
   * never dropped (a claim that finds no room fails instead).
   * @default 10_000
   */
  maxEntries?: number
  /** Time source, for tests. @default monotonic time */
  clock?: Clock
}

/**
 * The embedded store: one process, bounded, expiring. Right for a single
 * instance or for development; use {@link RedisIdempotencyStore} when
 * several instances serve the same keys.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #entries = new Map<string, Entry>()
  // Oldest and newest entry: making room walks from the oldest. A list of
  // our own, because walking a Map from its start also walks over the
  // deleted entries it keeps until it rehashes, thousands of them once the
  // store is full and every claim evicts.
  #oldest: Entry | undefined
  #newest: Entry | undefined
  readonly #maxEntries: number
  readonly #clock: Clock

  constructor (options: MemoryIdempotencyStoreOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 10_000
    this.#clock = options.clock ?? monotonicClock
  }

  get size (): number {
    return this.#entries.size
  }

  async claim (key: string, fingerprint: string, owner: string, leaseMs: number): Promise<ClaimOutcome> {
    const outcome = this.claimNow(key, fingerprint, owner, leaseMs)
    // Its own copy for the caller: changing it cannot change what later replays send.
    return outcome.kind === 'completed' ? { kind: 'completed', response: copy(outcome.response) } : outcome
  }

  /**
   * {@link claim}, answered within the call rather than through a promise:
   * the plugin claims with it, so that a request with a key costs no turn
   * of the microtask queue. A completed outcome carries the stored
   * response itself, not a copy, and a body given as text is still text:
   * read it, never change it.
   * @throws FRS_ERR_IDEMPOTENCY_STORE_FULL when no key can make room
   */
  claimNow (key: string, fingerprint: string, owner: string, leaseMs: number): ClaimOutcome<KeptResponse> {
    const now = this.#clock.now()
    const entry = this.#live(key, now)
    if (entry === undefined) {
      this.#makeRoom(now)
      this.#add({ key, older: undefined, newer: undefined, fingerprint, owner, response: undefined, expiresAt: now + leaseMs })
      return ACQUIRED
    }
    if (entry.fingerprint !== fingerprint) return { kind: 'mismatch' }
    if (entry.response !== undefined) return { kind: 'completed', response: entry.response }
    if (entry.owner === owner) {
      entry.expiresAt = now + leaseMs
      return ACQUIRED
    }
    return { kind: 'in-progress', retryAfterMs: entry.expiresAt - now }
  }

  async renew (key: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.#clock.now()
    const entry = this.#live(key, now)
    if (!claimedBy(entry, owner)) return false
    entry.expiresAt = now + leaseMs
    return true
  }

  async complete (key: string, owner: string, response: StoredResponse, retentionMs: number, fingerprint?: string): Promise<boolean> {
    return this.completeNow(key, owner, copy(response), retentionMs, fingerprint)
  }

  /**
   * {@link complete}, within the call. It keeps `response` itself, not a
   * copy: the caller gives it up. Its body may be the text that was sent.
   */
  completeNow (key: string, owner: string, response: KeptResponse, retentionMs: number, fingerprint?: string): boolean {
    const now = this.#clock.now()
    const entry = this.#live(key, now)
    if (entry === undefined && fingerprint !== undefined) {
      // Its lease ran out and nobody took the key: the answer is kept.
      this.#makeRoom(now)
      this.#add({ key, older: undefined, newer: undefined, fingerprint, owner: '', response, expiresAt: now + retentionMs })
      return true
    }
    if (!claimedBy(entry, owner)) return false
    // Moved to the newest end, so that the order stays the order of completion.
    this.#unlink(entry)
    this.#link(entry)
    entry.owner = ''
    entry.response = response
    entry.expiresAt = now + retentionMs
    return true
  }

  async release (key: string, owner: string): Promise<boolean> {
    const entry = this.#live(key, this.#clock.now())
    if (!claimedBy(entry, owner)) return false
    this.#delete(entry)
    return true
  }

  #add (entry: Entry): void {
    this.#entries.set(entry.key, entry)
    this.#link(entry)
  }

  #delete (entry: Entry): void {
    this.#entries.delete(entry.key)
    this.#unlink(entry)
  }

  #link (entry: Entry): void {
    entry.older = this.#newest
    if (this.#newest === undefined) this.#oldest = entry
    else this.#newest.newer = entry
    this.#newest = entry
  }

  #unlink (entry: Entry): void {
    if (entry.older === undefined) this.#oldest = entry.newer
    else entry.older.newer = entry.newer
    if (entry.newer === undefined) this.#newest = entry.older
    else entry.newer.older = entry.older
    entry.older = undefined
    entry.newer = undefined
  }

  #live (key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key)
    if (entry !== undefined && entry.expiresAt <= now) {
      this.#delete(entry)
      return undefined
    }
    return entry
  }

  #makeRoom (now: number): void {
    if (this.#entries.size < this.#maxEntries) return
    // Oldest first: the first expired or completed entry is the one to
    // drop, and it is almost always the very oldest.
    for (let entry = this.#oldest; entry !== undefined; entry = entry.newer) {
      if (entry.expiresAt <= now || entry.response !== undefined) {
        this.#delete(entry)
        return
      }
    }
    throw new FRS_ERR_IDEMPOTENCY_STORE_FULL(this.#entries.size)
  }
}

/** Whether the entry is a claim, not yet completed, held by `owner`. */
function claimedBy (entry: Entry | undefined, owner: string): entry is Entry {
  return entry !== undefined && entry.response === undefined && entry.owner === owner
}

/** A copy that the caller may change; a body kept as text becomes its UTF-8 bytes, as they were sent. */
function copy (response: KeptResponse): StoredResponse {
  return { status: response.status, headers: { ...response.headers }, body: Buffer.from(response.body) }
}
