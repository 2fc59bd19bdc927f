import { COMPARISON_COLUMNS, compare, comparisonRow, cpuRatio, postRequest } from './harness.js'
import { Report } from './report.js'
import { hasRedisServer, startRedisServer } from '../test/helpers/redis-server.js'

// Idempotency cost: first-time POSTs (every request a new key: claim and
// store) and replays (one key, answered from the store), against the same
// POST route without the plugin, in the same run. Redis rows use a
// throwaway redis-server, or REDIS_URL when set.
const ROUNDS = 3
const SECONDS = 3
const firstTime = postRequest('first')
const replay = postRequest('replay')
const TARGETS = { first: 0.75, replay: 0.9 }

const report = new Report('idempotency', 'npm run bench:idempotency')
const server = process.env.REDIS_URL === undefined && hasRedisServer() ? await startRedisServer() : undefined
if (server !== undefined) process.env.REDIS_URL = server.url
try {
  const table = report.table('Idempotency (deadlines off) against the same POST route without it', COMPARISON_COLUMNS)
  const stores = [['memory', 'idempotency-memory']] as Array<[string, string]>
  if (process.env.REDIS_URL !== undefined) stores.push(['Redis', 'idempotency-redis'])
  for (const [store, variant] of stores) {
    for (const [kind, request, aim] of [['first-time POST', firstTime, TARGETS.first], ['replay', replay, TARGETS.replay]] as const) {
      const result = await compare('bare', variant, request, ROUNDS, SECONDS)
      table.row(comparisonRow(`${kind}, ${store} store`, result))
      // With a new key per request the load generator can set the pace of both sides, which hides the server's cost from
      // the throughput ratio: the target needs the server's CPU per request to agree.
      const cpu = cpuRatio(result)
      const measured = cpu === undefined ? `${result.ratio.toFixed(2)}×` : `${result.ratio.toFixed(2)}× throughput, ${cpu.toFixed(2)}× server CPU per request`
      report.target(`idempotency ${kind}, ${store} store`, `≥ ${aim.toFixed(2)}× the plain route`, measured, Math.min(result.ratio, cpu ?? result.ratio) >= aim)
    }
  }
  if (process.env.REDIS_URL === undefined) table.note('Redis rows skipped: no redis-server on PATH and no REDIS_URL.')
  table.note('The plain route does nothing but echo its body, so the ratios are the whole cost of the idempotency work per request: the key, the fingerprint of the body (the memory store keeps a short one as text, Redis a SHA-256 of it, and a SHA-256 of the key), a claim, a store write, and for Redis the round trips. First-time rows keep the memory store full (10,000 keys), so each request also evicts a key, and the 10,000 answers kept alive add work for the garbage collector. First-time rows give every request a new key, which costs the load generator enough to set the pace of both sides: there the server CPU per request tells the cost, and the targets take the lower of the two ratios.')
  table.end()
} finally {
  await server?.stop()
}
