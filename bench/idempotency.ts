import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import { COMPARISON_COLUMNS, comparisonOf, comparisonRow, cpuRatio, judgedRatio, measuredRatios, load, measureInRounds, postRequest, requestOptions, startTarget } from './harness.js'
import type { Comparison, LoadRequest, LoadedTarget, RoundFigures } from './harness.js'
import { Report } from './report.js'
import type { Table } from './report.js'
import { hasRedisServer, startRedisServer } from '../test/helpers/redis-server.js'

// Idempotency cost: first-time POSTs (every request a new key: claim and
// store) and replays (one key, answered from the store), against the same
// POST route without the plugin, in the same run. `memory` or `redis` runs
// one store (each is an entry of npm run bench); both by default. Every
// target of a store is measured in the same rounds. Redis rows use a
// throwaway redis-server, or REDIS_URL when set, and are measured against
// floors too: the plain route reading one key from Redis (a replay's round
// trip), and reading one then writing another (a first-time POST's two),
// which is what the round trips cost before idempotency does anything.
const ROUNDS = 3
const SECONDS = 3
const firstTime = postRequest('first')
const replay = postRequest('replay')
const TARGETS = { first: 0.75, replay: 0.9 }
/** Requests whose store calls are counted, after a second of warm-up. */
const COUNTED_REQUESTS = 5000

/** Scripts run by Redis so far, read from INFO commandstats: every store call is one. */
async function scriptCalls (client: Redis): Promise<number> {
  const stats = await client.info('commandstats')
  let calls = 0
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval|evalsha_ro|eval_ro):calls=(\d+)/gm)) calls += Number(match[1])
  return calls
}

/**
 * Store calls per answered request through the Redis store, counted by
 * Redis itself. A request's calls run one after the other (claim, then
 * store the answer), so each is a round trip of its own.
 */
async function storeCallsPerRequest (request: LoadRequest, redisUrl: string): Promise<{ calls: number, answered: number }> {
  const target = await startTarget('idempotency-redis')
  const client = new Redis(redisUrl)
  try {
    const url = `http://127.0.0.1:${target.port}${request.path}`
    // Also stores the replayed key's answer, so that every counted replay finds it.
    await load(url, 1, request)
    const before = await scriptCalls(client)
    const result = await autocannon({ url, connections: 50, amount: COUNTED_REQUESTS, ...requestOptions(request) })
    const calls = await scriptCalls(client) - before
    return { calls, answered: result.requests.total - result.non2xx }
  } finally {
    client.disconnect()
    await target.stop()
  }
}

const chosen = process.argv.slice(2)
const runs = (store: string): boolean => chosen.length === 0 || chosen.includes(store)
const COST_NOTE = 'The plain route does nothing but echo its body, so the ratios are the whole cost of the idempotency work per request: the key, the fingerprint of the body (the memory store keeps a short one as text, Redis a SHA-256 of it, and a SHA-256 of the key), a claim, a store write, and for Redis the round trips. First-time rows give every request a new key, which costs the load generator enough to set the pace of both sides: there the server CPU per request tells the cost, and the targets take the lower of the two ratios.'

interface StoreFigures {
  /** The plain route (bare Fastify) sent what the first-time POSTs are, a new key each time, and its rounds. */
  plainFirst: RoundFigures[]
  first: RoundFigures[]
  /** The plain route sent what the replays are, one key every time. */
  plainReplay: RoundFigures[]
  replay: RoundFigures[]
  floors: RoundFigures[][]
  /** The rows: first-time POSTs and replays against the plain route. */
  compared: { first: Comparison, replay: Comparison }
}

/**
 * First-time POSTs and replays against the plain route sent the same
 * requests (the plain route ignores the key, the load generator still
 * makes it), with their targets, measured in the same rounds as `floors`.
 */
async function storeRows (report: Report, table: Table, store: string, variant: string, floors: readonly LoadedTarget[] = []): Promise<StoreFigures> {
  const [plainFirst = [], first = [], plainReplay = [], replayed = [], ...floorFigures] = await measureInRounds([
    { target: 'bare', request: firstTime },
    { target: variant, request: firstTime },
    { target: 'bare', request: replay },
    { target: variant, request: replay },
    ...floors,
  ], ROUNDS, SECONDS)
  const compared = { first: comparisonOf(plainFirst, first), replay: comparisonOf(plainReplay, replayed) }
  for (const [kind, result, aim] of [['first-time POST', compared.first, TARGETS.first], ['replay', compared.replay, TARGETS.replay]] as const) {
    table.row(comparisonRow(`${kind}, ${store} store`, result))
    // With a new key per request the load generator can set the pace of both sides, which hides the server's cost from
    // the throughput ratio: the target needs the server's CPU per request to agree.
    const cpu = cpuRatio(result)
    report.target(`idempotency ${kind}, ${store} store`, `≥ ${aim.toFixed(2)}× the plain route`, measuredRatios(result.ratio, cpu), judgedRatio(result.ratio, cpu) >= aim)
  }
  return { plainFirst, first, plainReplay, replay: replayed, floors: floorFigures, compared }
}

if (runs('memory')) {
  const report = new Report('idempotency-memory', 'npm run bench:idempotency -- memory')
  const table = report.table('Idempotency with the memory store (deadlines off) against the same POST route without it', COMPARISON_COLUMNS)
  await storeRows(report, table, 'memory', 'idempotency-memory')
  table.note(`${COST_NOTE} First-time rows keep the memory store full (10,000 keys), so each request also evicts a key, and the 10,000 answers kept alive add work for the garbage collector.`)
  table.end()
}

if (runs('redis')) {
  const report = new Report('idempotency-redis', 'npm run bench:idempotency -- redis')
  const table = report.table('Idempotency with the Redis store (deadlines off) against the same POST route without it, and against that route making the same round trips to Redis', COMPARISON_COLUMNS)
  const server = process.env.REDIS_URL === undefined && hasRedisServer() ? await startRedisServer() : undefined
  if (server !== undefined) process.env.REDIS_URL = server.url
  try {
    if (process.env.REDIS_URL === undefined) table.note('Redis rows skipped: no redis-server on PATH and no REDIS_URL.')
    else {
      const measured = await storeRows(report, table, 'Redis', 'idempotency-redis', [
        // The floors ignore the key, as the plain route does; each is sent what the row it bounds is.
        { target: 'redis-read', request: replay },
        { target: 'redis-read', request: postRequest('first', '/orders-written') },
      ])
      const [oneTrip = [], twoTrips = []] = measured.floors
      /** A floor against the plain route, then the row it bounds against the floor; a table row each. */
      const againstFloor = (plain: RoundFigures[], floorRounds: RoundFigures[], rowRounds: RoundFigures[], floorLabel: string, rowLabel: string): [Comparison, Comparison] => {
        const floorComparison = comparisonOf(plain, floorRounds)
        table.row(comparisonRow(floorLabel, floorComparison))
        const rowComparison = comparisonOf(floorRounds, rowRounds)
        table.row(comparisonRow(rowLabel, rowComparison))
        return [floorComparison, rowComparison]
      }
      const [floor, onFloor] = againstFloor(measured.plainReplay, oneTrip, measured.replay, 'the floor: plain POST reading one key from Redis (no idempotency)', 'replay, Redis store, against the floor')
      const [twoTripFloor, firstFloor] = againstFloor(measured.plainFirst, twoTrips, measured.first, 'the floor of two round trips: plain POST reading one key from Redis, then writing another (no idempotency)', 'first-time POST, Redis store, against the floor of two round trips')
      const first = measured.compared.first.cpuMicros?.candidate
      const replayCpu = measured.compared.replay.cpuMicros?.candidate
      const { calls, answered } = await storeCallsPerRequest(replay, process.env.REDIS_URL)
      const perReplay = calls / answered
      report.target('idempotency replay, Redis store: store calls (round trips) per request', '1', `${perReplay.toFixed(2)} (${calls.toLocaleString('en-US')} scripts run by Redis for ${answered.toLocaleString('en-US')} answered replays)`, Math.abs(perReplay - 1) < 0.01)
      const firstCalls = await storeCallsPerRequest(firstTime, process.env.REDIS_URL)
      if (first !== undefined && replayCpu !== undefined) {
        report.target('idempotency replay, Redis store: server CPU per request', '≤ a first-time POST\'s', `${replayCpu.toFixed(1)} µs vs ${first.toFixed(1)} µs`, replayCpu <= first)
      }
      table.note(`Store calls per request through the Redis store, counted by Redis (INFO commandstats) over ${COUNTED_REQUESTS.toLocaleString('en-US')} requests: ${perReplay.toFixed(2)} per replay (the claim finds the stored answer), ${(firstCalls.calls / firstCalls.answered).toFixed(2)} per first-time POST (the claim, then the answer stored). A request's calls run one after the other, so each is a round trip; calls of the same turn share one write to Redis.`)
      const bound = (result: Comparison, aim: number, what: string): string => judgedRatio(result.ratio, cpuRatio(result)) < aim ? ` ${what} makes those round trips too, so here none can reach ${aim.toFixed(2)}× the plain route, whatever the library does.` : ''
      table.note(`${COST_NOTE} The floors are what the round trips through ioredis cost a route that does nothing else, with redis-server on the same two cores. One round trip: ${floor.ratio.toFixed(2)}× the plain route here (${cpuRatio(floor)?.toFixed(2) ?? '—'}× its server CPU per request).${bound(floor, TARGETS.replay, 'A replay')} The replay against that floor (${onFloor.ratio.toFixed(2)}×) is the library's own share of a replay's cost. Two, one after the other, as a first-time POST makes them (the claim, then the answer stored): ${twoTripFloor.ratio.toFixed(2)}× (${cpuRatio(twoTripFloor)?.toFixed(2) ?? '—'}× its server CPU per request).${bound(twoTripFloor, TARGETS.first, 'A first-time POST')} A first-time POST against that floor (${firstFloor.ratio.toFixed(2)}×, ${cpuRatio(firstFloor)?.toFixed(2) ?? '—'}× its server CPU per request) is the library's own share of a first-time POST's cost.`)
    }
    table.end()
  } finally {
    await server?.stop()
  }
}
