import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { APP_PROPERTY_RUNS, anyString } from '../helpers/arbitraries.js'
import type { IdempotencyStore, StoredResponse } from '../../src/idempotency/index.js'

export interface StoreHarness {
  store: IdempotencyStore
  /** Lets `ms` pass for the store's leases and retention. */
  elapse: (ms: number) => Promise<void>
}

// A lease that outlives any test step however busy the machine (Redis leases
// run on real time), and a short one for the tests that wait for a lease to run out.
const LEASE_MS = 10_000
const SHORT_LEASE_MS = 200
const RETENTION_MS = 60_000

const response: StoredResponse = {
  status: 201,
  headers: { 'content-type': 'application/octet-stream', location: '/orders/7' },
  body: Buffer.from([0, 1, 2, 250, 255, 0x0a, 0x0d]),
}

/** The behaviour every IdempotencyStore must have, run against each implementation. */
export function describeStoreContract (name: string, harness: () => StoreHarness): void {
  describe(`${name}: store contract`, () => {
    const key = (): string => `key-${randomUUID()}`

    it('the first claim acquires; a second owner finds it in progress with a retry hint', async () => {
      const { store } = harness()
      const k = key()
      expect(await store.claim(k, 'fp', 'owner-a', LEASE_MS)).toEqual({ kind: 'acquired' })
      const second = await store.claim(k, 'fp', 'owner-b', LEASE_MS)
      expect(second.kind).toBe('in-progress')
      expect(second.kind === 'in-progress' ? second.retryAfterMs : -1).toBeGreaterThan(0)
      expect(second.kind === 'in-progress' ? second.retryAfterMs : Infinity).toBeLessThanOrEqual(LEASE_MS)
    })

    it('the same owner claiming again (a lost reply, retried) gets its lease back, not a conflict with itself', async () => {
      const { store } = harness()
      const k = key()
      await store.claim(k, 'fp', 'owner-a', LEASE_MS)
      expect(await store.claim(k, 'fp', 'owner-a', LEASE_MS)).toEqual({ kind: 'acquired' })
    })

    it('a different fingerprint is a mismatch, while claimed and once completed', async () => {
      const { store } = harness()
      const k = key()
      await store.claim(k, 'fp-1', 'owner-a', LEASE_MS)
      expect(await store.claim(k, 'fp-2', 'owner-b', LEASE_MS)).toEqual({ kind: 'mismatch' })
      await store.complete(k, 'owner-a', response, RETENTION_MS)
      expect(await store.claim(k, 'fp-2', 'owner-b', LEASE_MS)).toEqual({ kind: 'mismatch' })
    })

    it('a completed key replays the stored response byte for byte', async () => {
      const { store } = harness()
      const k = key()
      await store.claim(k, 'fp', 'owner-a', LEASE_MS)
      expect(await store.complete(k, 'owner-a', response, RETENTION_MS)).toBe(true)
      const replay = await store.claim(k, 'fp', 'owner-b', LEASE_MS)
      expect(replay.kind).toBe('completed')
      if (replay.kind !== 'completed') return
      expect(replay.response.status).toBe(201)
      expect(replay.response.headers).toEqual(response.headers)
      expect(replay.response.body.equals(response.body)).toBe(true)
    })

    it('any response replays as stored: every status, header text (newlines, quotes, lone surrogates) and body bytes, empty included', async () => {
      const { store } = harness()
      const headerName = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-'.split('')), minLength: 1, maxLength: 12 })
      const stored = fc.record({
        status: fc.integer({ min: 100, max: 599 }),
        headers: fc.dictionary(headerName, anyString, { maxKeys: 4 }),
        body: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      })
      await fc.assert(fc.asyncProperty(stored, async (answer) => {
        const k = key()
        await store.claim(k, 'fp', 'owner-a', LEASE_MS)
        expect(await store.complete(k, 'owner-a', answer, RETENTION_MS)).toBe(true)
        const replay = await store.claim(k, 'fp', 'owner-b', LEASE_MS)
        if (replay.kind !== 'completed') throw new Error(`expected a replay, got ${replay.kind}`)
        expect(replay.response.status).toBe(answer.status)
        expect(replay.response.headers).toEqual(answer.headers)
        expect(Buffer.compare(replay.response.body, answer.body)).toBe(0)
      }), APP_PROPERTY_RUNS)
    })

    it('a released key can be claimed again', async () => {
      const { store } = harness()
      const k = key()
      await store.claim(k, 'fp', 'owner-a', LEASE_MS)
      expect(await store.release(k, 'owner-a')).toBe(true)
      expect(await store.claim(k, 'fp', 'owner-b', LEASE_MS)).toEqual({ kind: 'acquired' })
    })

    it('only the owner can renew, complete or release', async () => {
      const { store } = harness()
      const k = key()
      await store.claim(k, 'fp', 'owner-a', LEASE_MS)
      expect(await store.renew(k, 'owner-b', LEASE_MS)).toBe(false)
      expect(await store.complete(k, 'owner-b', response, RETENTION_MS)).toBe(false)
      expect(await store.release(k, 'owner-b')).toBe(false)
      expect(await store.renew(k, 'owner-a', LEASE_MS)).toBe(true)
    })

    it('a lease runs out by itself, so a crashed holder blocks the key only until then', async () => {
      const { store, elapse } = harness()
      const k = key()
      await store.claim(k, 'fp', 'crashed', SHORT_LEASE_MS)
      await elapse(SHORT_LEASE_MS + 50)
      expect(await store.claim(k, 'fp', 'owner-b', LEASE_MS)).toEqual({ kind: 'acquired' })
    })

    it('a late finisher whose lease was taken over cannot overwrite the winner', async () => {
      const { store, elapse } = harness()
      const k = key()
      await store.claim(k, 'fp', 'slow', SHORT_LEASE_MS)
      await elapse(SHORT_LEASE_MS + 50)
      await store.claim(k, 'fp', 'winner', LEASE_MS)
      const winning = { ...response, body: Buffer.from('winner') }
      expect(await store.complete(k, 'winner', winning, RETENTION_MS)).toBe(true)
      expect(await store.complete(k, 'slow', { ...response, body: Buffer.from('late') }, RETENTION_MS)).toBe(false)
      expect(await store.release(k, 'slow')).toBe(false)
      const replay = await store.claim(k, 'fp', 'owner-c', LEASE_MS)
      expect(replay.kind === 'completed' ? replay.response.body.toString() : replay.kind).toBe('winner')
    })

    it('a finisher whose lease ran out with nobody taking the key stores its answer, given its fingerprint, and a retry replays it', async () => {
      const { store, elapse } = harness()
      const k = key()
      await store.claim(k, 'fp', 'cut-off', SHORT_LEASE_MS)
      await elapse(SHORT_LEASE_MS + 50)
      // Without the fingerprint, as a store was called before: nothing to write to.
      expect(await store.complete(k, 'cut-off', response, RETENTION_MS)).toBe(false)
      expect(await store.complete(k, 'cut-off', response, RETENTION_MS, 'fp')).toBe(true)
      const replay = await store.claim(k, 'fp', 'retry', LEASE_MS)
      expect(replay.kind === 'completed' ? replay.response : replay.kind).toEqual(response)
      expect(await store.claim(k, 'other-fp', 'retry', LEASE_MS)).toEqual({ kind: 'mismatch' })
    })

    it('a late finisher, fingerprint and all, never writes over a key another owner holds or has completed', async () => {
      const { store, elapse } = harness()
      const held = key()
      await store.claim(held, 'fp', 'slow', SHORT_LEASE_MS)
      await elapse(SHORT_LEASE_MS + 50)
      await store.claim(held, 'fp', 'holder', LEASE_MS)
      expect(await store.complete(held, 'slow', response, RETENTION_MS, 'fp')).toBe(false)
      expect(await store.complete(held, 'holder', { ...response, body: Buffer.from('holder') }, RETENTION_MS, 'fp')).toBe(true)
      expect(await store.complete(held, 'slow', response, RETENTION_MS, 'fp')).toBe(false)
      const replay = await store.claim(held, 'fp', 'retry', LEASE_MS)
      expect(replay.kind === 'completed' ? replay.response.body.toString() : replay.kind).toBe('holder')
    })

    it('renewing keeps a lease alive past its first term', async () => {
      const { store, elapse } = harness()
      const k = key()
      // Long enough that a stalled step (up to about 900 ms) cannot let the lease lapse early.
      const lease = 2000
      await store.claim(k, 'fp', 'owner-a', lease)
      await elapse(lease / 2)
      expect(await store.renew(k, 'owner-a', lease)).toBe(true)
      // Past the first term, within the renewed one.
      await elapse(lease / 2 + 100)
      expect((await store.claim(k, 'fp', 'owner-b', lease)).kind).toBe('in-progress')
    })

    it('a completed response is forgotten after its retention', async () => {
      const { store, elapse } = harness()
      const k = key()
      await store.claim(k, 'fp', 'owner-a', LEASE_MS)
      await store.complete(k, 'owner-a', response, 100)
      await elapse(150)
      expect(await store.claim(k, 'other-fp', 'owner-b', LEASE_MS)).toEqual({ kind: 'acquired' })
    })

    it('concurrent claims of one key: exactly one acquires', async () => {
      const { store } = harness()
      const k = key()
      const outcomes = await Promise.all(Array.from({ length: 50 }, (_, index) => store.claim(k, 'fp', `owner-${index}`, LEASE_MS)))
      expect(outcomes.filter((outcome) => outcome.kind === 'acquired')).toHaveLength(1)
      expect(outcomes.filter((outcome) => outcome.kind === 'in-progress')).toHaveLength(49)
    })
  })
}
