import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MemoryIdempotencyStore } from '../../src/idempotency/index.js'
import { PROPERTY_RUNS } from '../helpers/arbitraries.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { describeStoreContract } from './store-contract.js'

describeStoreContract('MemoryIdempotencyStore', () => {
  const clock = new ManualClock()
  return { store: new MemoryIdempotencyStore({ clock }), elapse: async (ms) => { clock.advance(ms) } }
})

const response = { status: 200, headers: {}, body: Buffer.from('ok') }

describe('MemoryIdempotencyStore bounds', () => {
  it('makes room by dropping the oldest expired or completed key, never a claim in flight', async () => {
    const clock = new ManualClock()
    const store = new MemoryIdempotencyStore({ clock, maxEntries: 3 })
    await store.claim('in-flight', 'fp', 'o', 60_000)
    await store.claim('expiring', 'fp', 'o', 10)
    await store.claim('done', 'fp', 'o', 1000)
    await store.complete('done', 'o', response, 60_000)
    clock.advance(20)
    await store.claim('new-1', 'fp', 'o', 60_000)
    expect(store.size).toBe(3)
    expect((await store.claim('done', 'fp', 'x', 1000)).kind).toBe('completed')
    await store.claim('new-2', 'fp', 'o', 60_000)
    // 'done' was dropped (a kept one would answer mismatch), and with only
    // claims in flight left there is no room for another.
    await expect(store.claim('done', 'other', 'x', 1000)).rejects.toMatchObject({ code: 'FRS_ERR_IDEMPOTENCY_STORE_FULL' })
    expect((await store.claim('in-flight', 'fp', 'x', 1000)).kind).toBe('in-progress')
  })

  it('never drops a claim in flight: a claim that finds no room fails', async () => {
    const store = new MemoryIdempotencyStore({ clock: new ManualClock(), maxEntries: 2 })
    await store.claim('a', 'fp', 'o', 1000)
    await store.claim('b', 'fp', 'o', 1000)
    await expect(store.claim('c', 'fp', 'o', 1000)).rejects.toMatchObject({ code: 'FRS_ERR_IDEMPOTENCY_STORE_FULL', statusCode: 503 })
    expect((await store.claim('a', 'fp', 'other', 1000)).kind).toBe('in-progress')
  })

  it('drops completed keys in the order they completed, not the order they were claimed', async () => {
    const store = new MemoryIdempotencyStore({ clock: new ManualClock(), maxEntries: 2 })
    await store.claim('claimed-first', 'fp', 'o', 1000)
    await store.claim('claimed-second', 'fp', 'o', 1000)
    await store.complete('claimed-second', 'o', response, 60_000)
    await store.complete('claimed-first', 'o', response, 60_000)
    await store.claim('c', 'fp', 'o', 1000)
    expect(store.size).toBe(2)
    expect((await store.claim('claimed-first', 'fp', 'x', 1000)).kind).toBe('completed')
    expect((await store.claim('claimed-second', 'other', 'x', 1000)).kind).toBe('acquired')
  })

  it('claimNow answers within the call what claim answers through a promise', async () => {
    const store = new MemoryIdempotencyStore({ clock: new ManualClock() })
    expect(store.claimNow('k', 'fp', 'o', 1000)).toEqual({ kind: 'acquired' })
    expect(store.claimNow('k', 'fp', 'x', 1000)).toEqual(await store.claim('k', 'fp', 'x', 1000))
    expect(store.claimNow('k', 'other', 'x', 1000)).toEqual({ kind: 'mismatch' })
    await store.complete('k', 'o', { status: 201, headers: { etag: '"1"' }, body: Buffer.from('abc') }, 60_000)
    const now = store.claimNow('k', 'fp', 'x', 1000)
    expect(now).toEqual(await store.claim('k', 'fp', 'x', 1000))
    expect(now.kind === 'completed' ? now.response.body.toString() : now.kind).toBe('abc')
  })

  it('keeps a body given as text to completeNow as that text, and claim answers its UTF-8 bytes', async () => {
    const store = new MemoryIdempotencyStore({ clock: new ManualClock() })
    store.claimNow('k', 'fp', 'o', 1000)
    expect(store.completeNow('k', 'o', { status: 200, headers: {}, body: 'déjà vu' }, 60_000)).toBe(true)
    const now = store.claimNow('k', 'fp', 'x', 1000)
    expect(now.kind === 'completed' ? now.response.body : now.kind).toBe('déjà vu')
    const later = await store.claim('k', 'fp', 'x', 1000)
    const body = later.kind === 'completed' ? later.response.body : undefined
    expect(Buffer.isBuffer(body)).toBe(true)
    expect(body?.equals(Buffer.from('déjà vu', 'utf8'))).toBe(true)
  })

  it('a replayed response cannot be changed through the object it returned', async () => {
    const store = new MemoryIdempotencyStore({ clock: new ManualClock() })
    await store.claim('k', 'fp', 'o', 1000)
    await store.complete('k', 'o', { status: 200, headers: { etag: '"1"' }, body: Buffer.from('abc') }, 60_000)
    const first = await store.claim('k', 'fp', 'x', 1000)
    if (first.kind === 'completed') first.response.body.write('zzz')
    const second = await store.claim('k', 'fp', 'x', 1000)
    expect(second.kind === 'completed' ? second.response.body.toString() : '').toBe('abc')
  })
})

describe('MemoryIdempotencyStore bytes', () => {
  const bodyOf = (bytes: number) => ({ status: 200, headers: {}, body: Buffer.alloc(bytes) })

  it('keeps bodies within maxBytes by dropping the oldest completed keys, never a claim in flight', async () => {
    const store = new MemoryIdempotencyStore({ clock: new ManualClock(), maxBytes: 1000 })
    await store.claim('in-flight', 'fp', 'o', 60_000)
    for (const key of ['a', 'b', 'c']) {
      await store.claim(key, 'fp', 'o', 1000)
      expect(await store.complete(key, 'o', bodyOf(400), 60_000)).toBe(true)
    }
    // 'a' made room for 'c'.
    expect(store.bytes).toBe(800)
    expect((await store.claim('a', 'other', 'x', 1000)).kind).toBe('acquired')
    expect((await store.claim('b', 'fp', 'x', 1000)).kind).toBe('completed')
    expect((await store.claim('in-flight', 'fp', 'x', 1000)).kind).toBe('in-progress')
  })

  it('counts text as the UTF-8 bytes it was sent as', () => {
    const store = new MemoryIdempotencyStore({ clock: new ManualClock() })
    store.claimNow('k', 'fp', 'o', 1000)
    store.completeNow('k', 'o', { status: 200, headers: {}, body: 'é☕' }, 60_000)
    expect(store.bytes).toBe(5)
  })

  it('does not keep a body larger than maxBytes: complete answers false and the key is free again', async () => {
    const store = new MemoryIdempotencyStore({ clock: new ManualClock(), maxBytes: 100 })
    await store.claim('k', 'fp', 'o', 1000)
    expect(await store.complete('k', 'o', bodyOf(101), 60_000)).toBe(false)
    expect(store.bytes).toBe(0)
    expect((await store.claim('k', 'fp', 'x', 1000)).kind).toBe('acquired')
  })

  it('counts exactly the bodies it keeps, never more than maxBytes, whatever is claimed, completed, released or expired', async () => {
    const kind = fc.oneof({ arbitrary: fc.constantFrom('claim', 'complete'), weight: 6 }, { arbitrary: fc.constantFrom('release', 'elapse'), weight: 1 })
    const operation = fc.record({ kind, key: fc.integer({ min: 0, max: 5 }), bytes: fc.integer({ min: 0, max: 120 }) })
    await fc.assert(fc.asyncProperty(fc.array(operation, { maxLength: 40 }), async (operations) => {
      const clock = new ManualClock()
      const store = new MemoryIdempotencyStore({ clock, maxBytes: 200, maxEntries: 4 })
      for (const { kind, key, bytes } of operations) {
        try {
          if (kind === 'claim') store.claimNow(`k${key}`, 'fp', 'o', 50)
          else if (kind === 'complete') store.completeNow(`k${key}`, 'o', { status: 200, headers: {}, body: Buffer.alloc(bytes) }, 100)
          else if (kind === 'release') await store.release(`k${key}`, 'o')
          else clock.advance(30)
        } catch (error) {
          expect(error).toMatchObject({ code: 'FRS_ERR_IDEMPOTENCY_STORE_FULL' })
        }
        expect(store.bytes).toBeGreaterThanOrEqual(0)
        expect(store.bytes).toBeLessThanOrEqual(200)
      }
      // Once every key has expired and been looked up, nothing is kept and nothing is left counted.
      clock.advance(1000)
      for (let key = 0; key <= 5; key++) await store.release(`k${key}`, 'o')
      expect(store.size).toBe(0)
      expect(store.bytes).toBe(0)
    }), PROPERTY_RUNS)
  })
})

describe('MemoryIdempotencyStore kept headers', () => {
  // Equal sets of headers are kept as one object: no response may get another's.
  const headerSets = fc.array(fc.dictionary(fc.constantFrom('content-type', 'etag', 'location', 'a', 'b'), fc.constantFrom('1', '2', 'text/plain')), { maxLength: 12 })

  it('replays each response with its own headers, whichever responses share theirs', async () => {
    await fc.assert(fc.asyncProperty(headerSets, async (sets) => {
      const store = new MemoryIdempotencyStore({ clock: new ManualClock() })
      for (const [index, headers] of sets.entries()) {
        store.claimNow(`k${index}`, 'fp', 'o', 1000)
        store.completeNow(`k${index}`, 'o', { status: 200, headers: { ...headers }, body: '' }, 60_000)
      }
      for (const [index, headers] of sets.entries()) {
        const now = store.claimNow(`k${index}`, 'fp', 'x', 1000)
        const later = await store.claim(`k${index}`, 'fp', 'x', 1000)
        expect(now.kind === 'completed' ? now.response.headers : now.kind).toStrictEqual({ ...headers })
        expect(later.kind === 'completed' ? later.response.headers : later.kind).toStrictEqual({ ...headers })
      }
    }))
  })
})
