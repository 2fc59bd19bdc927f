import { compare, formatRow } from './harness.js'
import { hasRedisServer, startRedisServer } from '../test/helpers/redis-server.js'

// Idempotency cost: first-time POSTs (every request a new key: claim and
// store) and replays (one key, answered from the store), against the same
// POST route without the plugin, in the same run. Redis rows use a
// throwaway redis-server, or REDIS_URL when set.
const ROUNDS = 3
const SECONDS = 3
const body = JSON.stringify({ sku: 7, quantity: 1 })
const post = { path: '/orders', method: 'POST' as const, body, headers: { 'content-type': 'application/json' } }
const firstTime = { ...post, uniqueIdempotencyKey: true }
const replay = { ...post, headers: { ...post.headers, 'idempotency-key': 'bench-replay' } }

const server = process.env.REDIS_URL === undefined && hasRedisServer() ? await startRedisServer() : undefined
if (server !== undefined) process.env.REDIS_URL = server.url
try {
  console.log('| scenario | POST without the plugin | with idempotency | ratio | p99 (with) |')
  console.log('| --- | --- | --- | --- | --- |')
  console.log(formatRow('first-time POST, memory store', await compare('bare', 'idempotency-memory', firstTime, ROUNDS, SECONDS)))
  console.log(formatRow('replay, memory store', await compare('bare', 'idempotency-memory', replay, ROUNDS, SECONDS)))
  if (process.env.REDIS_URL !== undefined) {
    console.log(formatRow('first-time POST, Redis store', await compare('bare', 'idempotency-redis', firstTime, ROUNDS, SECONDS)))
    console.log(formatRow('replay, Redis store', await compare('bare', 'idempotency-redis', replay, ROUNDS, SECONDS)))
  } else {
    console.log('\nRedis rows skipped: no redis-server on PATH and no REDIS_URL.')
  }
} finally {
  await server?.stop()
}
