import { performance } from 'node:perf_hooks'
import { MemoryIdempotencyStore } from '../../src/idempotency/index.js'

// Development aid: claim and complete through the memory store alone, a
// key each, in slices of 100,000, to see whether a claim costs the same
// once the store is full and keeps evicting.
const store = new MemoryIdempotencyStore({ maxEntries: Number(process.env.MAX_ENTRIES ?? 10_000) })
const response = { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"ok":true}') }
const SLICE = 100_000
let key = 0
for (let slice = 0; slice < 10; slice++) {
  const startedAt = performance.now()
  for (let i = 0; i < SLICE; i++) {
    const name = `k${++key}`
    await store.claim(name, 'fp', 'owner', 30_000)
    await store.complete(name, 'owner', response, 86_400_000)
  }
  console.log(`${key.toLocaleString('en-US')} keys: ${((performance.now() - startedAt) * 1000 / SLICE).toFixed(2)} µs per claim and store, ${store.size} kept`)
}
