import type { Buffer } from 'node:buffer'

/** A completed response, as stored and replayed. */
export interface StoredResponse {
  status: number
  /**
   * The allow-listed headers, as stored; never credentials or cookies. A
   * replay chooses them again from the allow-list: a record written under
   * another one, or by hand, sends no more than it allows.
   */
  headers: Record<string, string>
  body: Buffer
}

/**
 * A completed response as the memory store keeps it within the process: a
 * body that was sent as text stays that text, with no copy into a Buffer.
 * It leaves the store as a {@link StoredResponse}, through `claim`.
 */
export interface KeptResponse extends Omit<StoredResponse, 'body'> {
  body: Buffer | string
}

/** What a store answers to a claim of a key; `R` is the form of a completed response. */
export type ClaimOutcome<R extends KeptResponse = StoredResponse> =
  /** The caller holds the key until its lease runs out. */
  | { kind: 'acquired' }
  /** Another request holds the key; it may finish within `retryAfterMs`. */
  | { kind: 'in-progress', retryAfterMs: number }
  /** The key was used for a different request. */
  | { kind: 'mismatch' }
  /** The key's request completed: replay this response. */
  | { kind: 'completed', response: R }

/**
 * Where idempotency keys live. A claim is a lease: it expires by itself
 * when its holder dies. The holder is named by `owner`, a value unique to
 * the claiming attempt that doubles as its fencing token: every write
 * compares it atomically, so a holder whose lease ran out and was taken
 * over can no longer write. Every method is one atomic step.
 */
export interface IdempotencyStore {
  /**
   * Claims `key` for a request with this fingerprint. Claiming again with
   * the same owner (a retried call whose reply was lost) renews the lease
   * instead of answering `in-progress`.
   */
  claim: (key: string, fingerprint: string, owner: string, leaseMs: number) => Promise<ClaimOutcome>
  /** Extends the lease; false when `owner` no longer holds it. */
  renew: (key: string, owner: string, leaseMs: number) => Promise<boolean>
  /**
   * Stores the response for `retentionMs` and ends the lease; false when
   * `owner` no longer holds it. Given the claim's `fingerprint`, a key whose
   * record is gone (its lease ran out and no request took it, or the store
   * lost it) gets the response too: nobody else answered for it, and a
   * retry would run the request again. A key another owner holds or has
   * completed is never written (false).
   */
  complete: (key: string, owner: string, response: StoredResponse, retentionMs: number, fingerprint?: string) => Promise<boolean>
  /** Gives the key up so the client may retry; false when `owner` no longer holds it. */
  release: (key: string, owner: string) => Promise<boolean>
  /**
   * Optional: resolves true once the store can answer, false if it still
   * cannot after `timeoutMs`. The plugin waits for it while the server
   * starts, so that the first requests do not find it unreachable.
   */
  ready?: (timeoutMs: number) => Promise<boolean>
}
