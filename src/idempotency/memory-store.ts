import { Buffer } from 'node:buffer'
import type { Clock } from '../clock.js'
import { monotonicClock } from '../clock.js'
import { FRS_ERR_IDEMPOTENCY_STORE_FULL } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, optionalClock, optionalIntegerBetween } from '../options.js'
import type { ClaimOutcome, IdempotencyStore, KeptResponse, StoredResponse } from './store.js'

/**
 * A key held by the store: claimed (with its owner) until it has a
 * response, completed after. One object per key, the response's parts
 * among its fields: a completed key lives for minutes, so every object it
 * keeps is one the collector copies into old space and later frees, and
 * a first-time request pays for that.
 */
interface Entry {
  key: string
  /** Links of the list that keeps entries in the order they were written. */
  older: Entry | undefined
  newer: Entry | undefined
  fingerprint: string
  /** The claim's holder; empty once completed. */
  owner: string
  /** Whole milliseconds: a fraction would make the engine keep the number in an object of its own. */
  expiresAt: number
  /** The response, once completed; its body is undefined while the key is claimed. */
  status: number
  headers: Readonly<Record<string, string>>
  body: Buffer | string | undefined
  /** The body's bytes as sent (UTF-8 for text), counted against `maxBytes`; 0 without a body. */
  bytes: number
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({})

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
  /**
   * Bytes of kept answers' bodies at most, as they were sent (text counted
   * as UTF-8). Keeping an answer past it drops the oldest expired or
   * completed keys first, so that a route with large answers cannot make
   * the process keep `maxEntries` of them. An answer larger than this is
   * not kept: `complete` answers false and releases the key.
   * @default 67_108_864 (64 MiB)
   */
  maxBytes?: number
  /** Time source, for tests. @default monotonic time */
  clock?: Clock
}

// Tied to the interface as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const MEMORY_STORE_KEYS = ['maxEntries', 'maxBytes', 'clock'] as const satisfies ReadonlyArray<keyof MemoryIdempotencyStoreOptions>

// A Map holds at most 2^24 entries in V8; past that, set() throws a
// RangeError instead of the store making room.
const MAX_ENTRIES = 2 ** 24

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
  // The headers of the last response kept: most responses of a store have
  // the same ones (a content type), and an equal set shares this object
  // instead of keeping one more.
  #lastHeaders: Readonly<Record<string, string>> = NO_HEADERS
  readonly #maxEntries: number
  readonly #maxBytes: number
  // The kept bodies' bytes, counted as they are kept and dropped.
  #bytes = 0
  readonly #clock: Clock

  /** @throws FRS_ERR_OPTION_UNKNOWN for an option it does not know, FRS_ERR_OPTION_INVALID for a value it cannot use */
  constructor (options: MemoryIdempotencyStoreOptions = {}) {
    // Checked as the plugins' options are: from JavaScript, a misspelt
    // `maxEntries` or `clock` would otherwise be dropped without a word.
    assertOptionsObject(options, 'MemoryIdempotencyStore options')
    assertKnownKeys(options, MEMORY_STORE_KEYS, 'MemoryIdempotencyStore options')
    this.#maxEntries = optionalIntegerBetween(options.maxEntries, 'MemoryIdempotencyStore maxEntries', 10_000, 1, MAX_ENTRIES, `an integer from 1 to ${MAX_ENTRIES}`)
    this.#maxBytes = optionalIntegerBetween(options.maxBytes, 'MemoryIdempotencyStore maxBytes', 64 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER, 'a whole number of bytes from 1')
    this.#clock = optionalClock(options.clock, 'MemoryIdempotencyStore clock', monotonicClock)
  }

  /** Keys held, claimed and completed. */
  get size (): number {
    return this.#entries.size
  }

  /** Bytes of the kept answers' bodies, as they were sent. */
  get bytes (): number {
    return this.#bytes
  }

  /** The most bytes of bodies it keeps (its `maxBytes`). */
  get maxBytes (): number {
    return this.#maxBytes
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
      this.#makeRoom(now, 1, 0)
      this.#add(newEntry(key, fingerprint, owner, expiry(now, leaseMs)))
      return ACQUIRED
    }
    if (entry.fingerprint !== fingerprint) return { kind: 'mismatch' }
    if (entry.body !== undefined) return { kind: 'completed', response: { status: entry.status, headers: entry.headers, body: entry.body } }
    if (entry.owner === owner) {
      entry.expiresAt = expiry(now, leaseMs)
      return ACQUIRED
    }
    return { kind: 'in-progress', retryAfterMs: entry.expiresAt - now }
  }

  async renew (key: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.#clock.now()
    const entry = this.#live(key, now)
    if (!claimedBy(entry, owner)) return false
    entry.expiresAt = expiry(now, leaseMs)
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
    const bytes = typeof response.body === 'string' ? Buffer.byteLength(response.body) : response.body.length
    let completed = this.#live(key, now)
    if (completed === undefined && fingerprint !== undefined) {
      if (bytes > this.#maxBytes) return false
      // Its lease ran out and nobody took the key: the answer is kept.
      this.#makeRoom(now, 1, bytes)
      completed = newEntry(key, fingerprint, owner, 0)
      this.#add(completed)
    } else if (claimedBy(completed, owner)) {
      if (bytes > this.#maxBytes) {
        this.#delete(completed)
        return false
      }
      // A claim in flight, which making room never drops.
      this.#makeRoom(now, 0, bytes)
      // Moved to the newest end, so that the order stays the order of completion.
      this.#unlink(completed)
      this.#link(completed)
    } else {
      return false
    }
    completed.owner = ''
    completed.expiresAt = expiry(now, retentionMs)
    completed.status = response.status
    completed.headers = this.#shared(response.headers)
    completed.body = response.body
    completed.bytes = bytes
    this.#bytes += bytes
    return true
  }

  /** `headers`, or the last kept headers if they are the same. */
  #shared (headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
    if (sameHeaders(headers, this.#lastHeaders)) return this.#lastHeaders
    this.#lastHeaders = headers
    return headers
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
    this.#bytes -= entry.bytes
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

  /**
   * Drops the oldest expired or completed keys until `keys` more keys and
   * `bytes` more bytes of bodies fit; a claim in flight is never dropped.
   * Oldest first: the first expired or completed entry is the one to drop,
   * and it is almost always the very oldest.
   * @throws FRS_ERR_IDEMPOTENCY_STORE_FULL when the keys do not fit (too few bytes only drops what it can)
   */
  #makeRoom (now: number, keys: 0 | 1, bytes: number): void {
    let entry = this.#oldest
    while (entry !== undefined && (this.#entries.size + keys > this.#maxEntries || this.#bytes + bytes > this.#maxBytes)) {
      const newer = entry.newer
      if (entry.expiresAt <= now || entry.body !== undefined) this.#delete(entry)
      entry = newer
    }
    if (this.#entries.size + keys > this.#maxEntries) throw new FRS_ERR_IDEMPOTENCY_STORE_FULL(this.#entries.size)
  }
}

function newEntry (key: string, fingerprint: string, owner: string, expiresAt: number): Entry {
  return { key, older: undefined, newer: undefined, fingerprint, owner, expiresAt, status: 0, headers: NO_HEADERS, body: undefined, bytes: 0 }
}

/** When something `ms` from `now` ends, in whole milliseconds, never early. */
function expiry (now: number, ms: number): number {
  return Math.ceil(now + ms)
}

/** Whether the entry is a claim, not yet completed, held by `owner`. */
function claimedBy (entry: Entry | undefined, owner: string): entry is Entry {
  return entry !== undefined && entry.body === undefined && entry.owner === owner
}

/** Whether two sets of headers have the same names and values. */
function sameHeaders (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  let names = 0
  for (const name in a) {
    if (a[name] !== b[name]) return false
    names++
  }
  for (const name in b) {
    if (names-- === 0 || !(name in a)) return false
  }
  return names === 0
}

/** A copy that the caller may change; a body kept as text becomes its UTF-8 bytes, as they were sent. */
function copy (response: KeptResponse): StoredResponse {
  return { status: response.status, headers: { ...response.headers }, body: Buffer.from(response.body) }
}
