import { load, place, startTarget } from '../harness.js'

// Development aid: runs a target under --cpu-prof while loading a path.
// Usage: tsx bench/dev/profile.ts <variant> <path> <dir> [settings…];
// BENCH_POST=first|replay sends idempotent POSTs instead of GETs.
place('pinned')
const [variant = 'umbrella', path = '/hello', dir = 'profiles', ...settings] = process.argv.slice(2)
const target = await startTarget(variant, settings, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
const post = process.env.BENCH_POST
const body = JSON.stringify({ sku: 7, quantity: 1 })
const request = post === undefined
  ? { path }
  : { path, method: 'POST' as const, body, headers: { 'content-type': 'application/json', ...(post === 'replay' ? { 'idempotency-key': 'profile' } : {}) }, uniqueIdempotencyKey: post === 'first' }
await load(`http://127.0.0.1:${target.port}${path}`, 8, request)
await target.stop()
