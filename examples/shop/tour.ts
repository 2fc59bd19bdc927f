import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import { buildShop } from './app.js'
import { burst } from './burst.js'
import { startPayments } from './payments.js'
import type { PaymentsService } from './payments.js'
import { startRecommendations } from './recommendations-service.js'
import type { RecommendationsService } from './recommendations-service.js'

export interface TourResult {
  title: string
  expectedStatus: number
  status: number
  body: unknown
  elapsedMs: number
  /** What the payment provider saw, for the steps that look at it. */
  observations: string[]
}

interface Step {
  title: string
  method: 'GET' | 'POST'
  path: string
  body?: string
  headers?: Record<string, string>
  /** What to set up on the payment provider before the request. */
  arrange?: (payments: PaymentsService) => Promise<void> | void
  /** What to report from the provider's side afterwards. */
  observe?: (payments: PaymentsService) => Promise<string[]>
  /**
   * Send the same request several times: a client that gives up after
   * `giveUpAfterMs`, then retries after `pauseBeforeMs`. One attempt by default.
   */
  attempts?: Array<{ giveUpAfterMs?: number, pauseBeforeMs?: number }>
  /**
   * A scene that needs more than one request: it gets the shop's address
   * and returns the answer it is judged by, with what it observed.
   */
  scene?: (stage: Stage) => Promise<{ answer: Answer, observations: string[] }>
  expectedStatus: number
  why: string
}

interface Answer { status: number, text: string, elapsedMs: number }

/** A clock that the tour moves by hand, for the error budget. */
class SimulatedClock {
  #now = performance.now()
  now (): number {
    return this.#now
  }

  advance (ms: number): void {
    this.#now += ms
  }
}

/** What a scene may use: the shop, its address, the payment provider, the budget's clock. */
interface Stage { shop: FastifyInstance, base: URL, payments: PaymentsService, recommendations: RecommendationsService, clock: SimulatedClock }

const HOUR_MS = 3_600_000

const ORDER = JSON.stringify({ productId: 3, quantity: 1 })

/** Sends one order and times it. */
async function order (base: URL): Promise<Answer> {
  const startedAt = performance.now()
  const response = await fetch(new URL('/orders', base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: ORDER })
  return { status: response.status, text: await response.text(), elapsedMs: Math.round(performance.now() - startedAt) }
}

/** An answer that is not a success, as its status and problem type, e.g. `504 dependency-timeout`. */
function problemSummary (answer: Answer): string {
  try {
    const problem = JSON.parse(answer.text) as { type?: string, reason?: string }
    const type = problem.type?.split('/').at(-1) ?? 'problem'
    return `${answer.status} ${type}${problem.reason === undefined ? '' : ` (${problem.reason})`}`
  } catch {
    return String(answer.status)
  }
}

/**
 * Floods the shop with recommendation requests from another thread (10
 * waves of 60 at once, many times what it can score) while a customer
 * places five orders, and reports what each side got.
 */
async function overloadScene ({ base }: Stage): Promise<{ answer: Answer, observations: string[] }> {
  const flood = burst(Number(base.port), Array.from({ length: 60 }, () => '/recommendations'), 10)
  const orders: Answer[] = []
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 30))
    orders.push(await order(base))
  }
  const recommendations = await flood
  const shed = recommendations.filter((result) => result.status === 503)
  const served = recommendations.filter((result) => result.status === 200).length
  const reasons = [...new Set(shed.map((result) => (JSON.parse(result.body) as { reason?: string }).reason))].join(', ')
  const waits = shed.map((result) => Number(result.retryAfter))
  const created = orders.filter((answer) => answer.status === 201).length
  const others = orders.filter((answer) => answer.status !== 201).map(problemSummary)
  // The step answers with the last order that went through: the payment
  // provider shares the shop's process, so on a saturated machine a single
  // order may wait past its 500 ms timeout; orders are still never shed.
  const answer = orders.findLast((candidate) => candidate.status === 201) ?? orders.at(-1) as Answer
  return {
    answer,
    observations: [
      `GET /recommendations ×${recommendations.length}: ${served} served, ${shed.length} shed with 503 overloaded (reason: ${reasons || 'none'}), Retry-After ${Math.min(...waits)}–${Math.max(...waits)} s`,
      `POST /orders ×${orders.length} meanwhile: ${created} created${others.map((other) => `, ${other}`).join('')}, in ${orders.map((answer) => answer.elapsedMs).join(', ')} ms`,
      ...(shed[0] === undefined ? [] : [`a shed answer: ${shed[0].body}`]),
    ],
  }
}

// Set by the idempotency scene to count the charges it causes.
let chargesBefore = 0

interface SliView { name: string, sli: string, state: string, budget: { remaining: number }, burnRates: Record<string, number> }

/** One line on the orders SLO, read from the shop's status route. */
async function budgetLine (base: URL, label: string): Promise<string> {
  const statuses = await (await fetch(new URL('/slo', base))).json() as SliView[]
  const orders = statuses.find((status) => status.name === 'orders' && status.sli === 'availability')
  if (orders === undefined) return `${label}: no orders SLO`
  const percent = Math.round(orders.budget.remaining * 100)
  return `${label}: ${orders.state}, ${percent}% of the budget left, burning ${Math.round(orders.burnRates['1h'] ?? 0)}× over 1h and ${Math.round(orders.burnRates['5m'] ?? 0)}× over 5m`
}

/**
 * A healthy day of orders (800, on the budget's simulated clock), an hour
 * of quiet, then the payment provider fails every charge: the orders SLO
 * (99 % available) burns, and its state turns critical.
 */
/**
 * 800 healthy orders over 20 simulated hours, then an hour of quiet. Ten
 * at a time: forty at once on a machine busy with other work could lag
 * the event loop enough to be shed, and a shed order is a bad event that
 * the budget scene's arithmetic does not expect.
 */
async function healthyDay ({ base, payments, clock }: Stage): Promise<void> {
  payments.behaviour.latencyMs = 0
  for (let hour = 0; hour < 20; hour++) {
    for (let batch = 0; batch < 4; batch++) await Promise.all(Array.from({ length: 10 }, async () => order(base)))
    clock.advance(HOUR_MS)
  }
  clock.advance(HOUR_MS)
  payments.behaviour.latencyMs = 20
}

async function budgetScene (stage: Stage): Promise<{ answer: Answer, observations: string[] }> {
  const { base, payments, clock } = stage
  await healthyDay(stage)
  const observations = [await budgetLine(base, 'after a healthy day of 800 orders')]
  payments.behaviour.failureRate = 1
  let last: Answer | undefined
  for (let failed = 1; failed <= 6; failed++) {
    last = await order(base)
    clock.advance(20_000)
    if (failed % 2 === 0) observations.push(await budgetLine(base, `after ${failed} failed orders`))
  }
  payments.behaviour.failureRate = 0
  return { answer: last as Answer, observations }
}

/**
 * A game day a month later: after another healthy day, a time-boxed
 * experiment adds 30 % latency (1–4 s) and 10 % errors to orders, in front
 * of the payment provider. Batches of 10 orders show the deadline (504s)
 * and the budget reacting, until chaos stops itself because the orders
 * budget turned critical.
 */
async function gameDayScene (stage: Stage): Promise<{ answer: Answer, observations: string[] }> {
  const { shop, base, clock } = stage
  clock.advance(31 * 24 * HOUR_MS)
  await healthyDay(stage)
  const observations = [await budgetLine(base, 'a month later, after another healthy day')]
  const onOrders = { methods: ['POST'], path: '/orders' }
  shop.chaos.start({
    name: 'game-day',
    seed: 7,
    durationMs: 20_000,
    faults: [
      { type: 'latency', rate: 0.3, minMs: 1000, maxMs: 4000, match: onOrders },
      { type: 'error', rate: 0.1, status: 503, match: onOrders },
    ],
  })
  observations.push(`chaos enabled: ${String(shop.chaos.enable())}; experiment game-day for 20 s, seed 7`)
  const startedAt = performance.now()
  for (let batch = 1; shop.chaos.stats().enabled && performance.now() - startedAt < 20_000; batch++) {
    const answers = await Promise.all(Array.from({ length: 10 }, async () => order(base)))
    clock.advance(60_000)
    const counts = new Map<number, number>()
    for (const answer of answers) counts.set(answer.status, (counts.get(answer.status) ?? 0) + 1)
    const shown = [...counts].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join(' ')
    observations.push(await budgetLine(base, `batch ${batch}: ${shown}, slowest ${Math.max(...answers.map((answer) => answer.elapsedMs))} ms; orders SLO`))
  }
  const stats = shop.chaos.stats()
  observations.push(`chaos ${stats.enabled ? 'still on' : `stopped itself: ${stats.stoppedBecause ?? ''}`}; ${stats.injected.total} faults injected (${stats.injected.byType.latency} latency, ${stats.injected.byType.error} errors)`)
  // With chaos off, the next order goes through untouched.
  const after = await order(base)
  observations.push(`the next order: ${after.status} after ${after.elapsedMs} ms`)
  return { answer: after, observations }
}

/** Asks for a customer's picks and times it. */
async function picks (base: URL): Promise<Answer & { degradedHeader: string | null }> {
  const startedAt = performance.now()
  const response = await fetch(new URL('/picks', base), { headers: { 'x-customer': 'cus_42' } })
  return { status: response.status, text: await response.text(), elapsedMs: Math.round(performance.now() - startedAt), degradedHeader: response.headers.get('x-degraded') }
}

/** "504×4 (801–812 ms)" */
function tally (answers: readonly Answer[]): string {
  const groups = new Map<number, Answer[]>()
  for (const answer of answers) groups.set(answer.status, [...groups.get(answer.status) ?? [], answer])
  return [...groups].map(([status, group]) => {
    const times = group.map((answer) => answer.elapsedMs)
    return `${status}×${group.length} (${Math.min(...times)}–${Math.max(...times)} ms)`
  }).join(', ')
}

/**
 * The payment provider and the recommendations partner stop answering.
 * The first orders wait out the 500 ms attempt timeout; then the payments
 * breaker opens and orders fail in a millisecond with a Retry-After, while
 * picks come from the last good answer, marked degraded. The provider comes
 * back: after the open period one probe goes through, the breaker closes,
 * and orders succeed again.
 */
async function outageScene ({ shop, base, payments, recommendations }: Stage): Promise<{ answer: Answer, observations: string[] }> {
  const changes: string[] = []
  const stop = shop.dependencies.onStateChange((change) => { changes.push(`${change.from} → ${change.to}${change.openMs === undefined ? '' : ` for ${change.openMs} ms`}`) })
  const observations: string[] = []
  // A quiet moment: the breaker's 3 s window forgets the game day's orders.
  await new Promise((resolve) => setTimeout(resolve, 3100))
  const fresh = await picks(base)
  observations.push(`GET /picks while healthy: ${fresh.status}, ${fresh.text}`)

  payments.behaviour.down = true
  recommendations.behaviour.down = true
  const receivedBefore = payments.received
  const orders: Answer[] = []
  for (let i = 0; i < 10; i++) orders.push(await order(base))
  const received = payments.received - receivedBefore
  observations.push(`provider down: 10 orders answered ${tally(orders)}`)
  const refused = orders.find((answer) => answer.status === 503)
  if (refused !== undefined) observations.push(`a refused order: ${refused.text}`)
  observations.push(`calls the dead provider received: ${received} for 10 orders`)
  const stale = await picks(base)
  observations.push(`GET /picks meanwhile: ${stale.status} after ${stale.elapsedMs} ms, x-degraded: ${stale.degradedHeader ?? 'none'}, ${stale.text}`)

  payments.behaviour.down = false
  recommendations.behaviour.down = false
  // Wait for the open period to end: the breaker then admits one probe.
  await new Promise((resolve) => setTimeout(resolve, (shop.dependencies.stats().payments?.openRemainingMs ?? 0) + 50))
  const receivedBeforeProbe = payments.received
  const probe = await order(base)
  observations.push(`provider back; the next order is the probe: ${probe.status} after ${probe.elapsedMs} ms (${payments.received - receivedBeforeProbe} call)`)
  const after = await order(base)
  observations.push(`breaker: ${changes.join(', ')}`)
  stop()
  return { answer: after, observations }
}

// A key of its own each run: a Redis store kept from an earlier tour
// (REDIS_URL) would otherwise replay that run's order without charging.
const ORDER_KEY = `"order-${randomBytes(2).toString('hex')}"`

const STEPS: readonly Step[] = [
  {
    title: 'A healthy order',
    method: 'POST',
    path: '/orders',
    body: JSON.stringify({ productId: 1, quantity: 2 }),
    expectedStatus: 201,
    why: 'The payment provider answered in time; the order is created.',
  },
  {
    title: 'A body that breaks the schema',
    method: 'POST',
    path: '/orders',
    body: JSON.stringify({ productId: 'one', quantity: 40 }),
    expectedStatus: 400,
    why: 'Each schema violation is listed in `errors` with a JSON pointer to the field, so a client can highlight it.',
  },
  {
    title: 'Malformed JSON',
    method: 'POST',
    path: '/orders',
    body: '{"productId": 1,',
    expectedStatus: 400,
    why: "Fastify's own parser errors are problems too, with Fastify's error code as an extension member.",
  },
  {
    title: 'A product that does not exist',
    method: 'GET',
    path: '/products/99',
    expectedStatus: 404,
    why: 'The application answers with a registered problem type: a stable `type` URI and title, plus its own `productId` member.',
  },
  {
    title: 'A route that does not exist',
    method: 'GET',
    path: '/basket',
    expectedStatus: 404,
    why: 'Unknown routes get a plain HTTP problem: `about:blank` with the reason phrase as title (RFC 9457 §4.2).',
  },
  {
    title: 'A flood of recommendation requests while customers order',
    method: 'GET',
    path: '/recommendations',
    scene: overloadScene,
    expectedStatus: 201,
    why: 'Recommendations are `low` priority and cost CPU. Once the event loop lags for 100 ms, the shop sheds late `low` requests in every turn (503 `overloaded`, a jittered Retry-After), so `critical` orders keep going through. (The payment provider runs in the shop\'s own process here, so on a machine that is busy with other work an order can still time out waiting on it: a `dependency-timeout`, never a shed.)',
  },
  {
    title: 'A 300 ms budget meets a slow payment provider',
    method: 'POST',
    path: '/orders',
    body: JSON.stringify({ productId: 1, quantity: 1 }),
    headers: { 'x-request-timeout-ms': '300' },
    arrange: (payments) => { payments.behaviour.latencyMs = 2000 },
    observe: async (payments) => {
      const chargesBefore = payments.charges
      const charge = await payments.lastCharge()
      payments.behaviour.latencyMs = 20
      return [
        `provider saw x-request-timeout-ms: ${charge?.budgetHeader ?? 'none'} (the caller's 300 ms, minus the safety margin and the time already spent)`,
        `provider call abandoned by the shop: ${String(charge?.abandoned)}; customer charged: ${payments.charges > chargesBefore ? 'yes' : 'no'}`,
      ]
    },
    expectedStatus: 504,
    why: 'The caller can wait 300 ms, so the shop gives up at ~290 ms instead of its own 2 s: it answers 504 at the deadline and aborts the provider call rather than charging a customer who has already given up.',
  },
  {
    title: 'A payment retried after the client timed out',
    method: 'POST',
    path: '/orders',
    body: JSON.stringify({ productId: 2, quantity: 1 }),
    headers: { 'idempotency-key': ORDER_KEY, 'x-customer': 'cus_42' },
    arrange: (payments) => {
      payments.behaviour.latencyMs = 300
      chargesBefore = payments.charges
    },
    // The client gives up after 100 ms, retries at once (the order is still
    // running: 409), waits the second its Retry-After advises, and retries.
    attempts: [{ giveUpAfterMs: 100 }, { pauseBeforeMs: 50 }, { pauseBeforeMs: 1000 }, {}],
    observe: async (payments) => {
      payments.behaviour.latencyMs = 20
      const charged = payments.charges - chargesBefore
      return [`customer charged ${charged} time${charged === 1 ? '' : 's'} for 4 attempts`]
    },
    expectedStatus: 201,
    why: 'The first attempt holds the Idempotency-Key, so when its client gives up the order keeps running and its answer is stored. A retry while it runs gets 409 with Retry-After; every retry after it gets that answer, byte for byte, marked Idempotent-Replayed, without charging again.',
  },
  {
    title: 'The payment provider starts failing: the orders SLO burns',
    method: 'POST',
    path: '/orders',
    scene: budgetScene,
    expectedStatus: 502,
    why: 'Each failed charge is a 5xx the orders SLO counts as bad. Over the last hour and the last 5 minutes the budget burns faster than 14.4× (2 % of a 30-day budget per hour), so the state turns critical (a page, in the SRE workbook\'s policy) well before the budget is gone.',
  },
  {
    title: 'A game day: chaos on orders, stopped by the error budget',
    method: 'POST',
    path: '/orders',
    scene: gameDayScene,
    expectedStatus: 201,
    why: 'Injected latency past the 2 s deadline becomes 504s, injected errors 503s; the orders budget burns, and once its state turns critical chaos kills every fault in flight and stays off. The experiment is seeded, so the same game day replays the same decisions.',
  },
  {
    title: 'The payment provider goes down, then comes back',
    method: 'POST',
    path: '/orders',
    scene: outageScene,
    expectedStatus: 201,
    why: 'A provider that hangs costs each order the 500 ms attempt timeout, but only until the breaker has seen half the calls of its window fail (three here): then orders fail at once with 503 `dependency-unavailable` and a Retry-After until the breaker half-opens, and the dead host stops receiving calls. Picks answer from the last good answer, marked degraded. When the provider is back, one probe goes through and closes the breaker.',
  },
  {
    title: 'The payment provider fails',
    method: 'POST',
    path: '/orders',
    body: JSON.stringify({ productId: 2, quantity: 1 }),
    arrange: (payments) => { payments.behaviour.failureRate = 1 },
    expectedStatus: 502,
    why: 'The provider answered 500: the shop answers 502 `dependency-failed`, naming `payments`, without passing the provider\'s body on.',
  },
  {
    title: 'The payment provider is gone',
    method: 'POST',
    path: '/orders',
    body: JSON.stringify({ productId: 3, quantity: 1 }),
    arrange: (payments) => payments.close(),
    expectedStatus: 502,
    why: 'The connection is refused: a network failure, also 502 `dependency-failed` (reason `network`) instead of a bare 500.',
  },
]

/**
 * Starts the shop and its payment provider in-process, sends each step's
 * request over real HTTP, and writes what was sent, what came back and why.
 */
/** `statusPage`: told the live status page's URL once the shop listens; `keepMs`: how long the shop stays up after the tour. */
export interface TourOptions {
  statusPage?: (url: string) => void
  keepMs?: number
}

export async function runTour (write: (line: string) => void, options: TourOptions = {}): Promise<TourResult[]> {
  const payments = await startPayments({ latencyMs: 20, failureRate: 0 })
  const recommendations = await startRecommendations()
  const clock = new SimulatedClock()
  const shop = await buildShop({ paymentsUrl: payments.url, recommendationsUrl: recommendations.url, logger: false, budgetClock: clock, ...(process.env.REDIS_URL === undefined ? {} : { redisUrl: process.env.REDIS_URL }) })
  const base = await shop.listen({ port: 0, host: '127.0.0.1' })
  options.statusPage?.(`${base}/resilience`)
  const results: TourResult[] = []
  try {
    for (const [index, step] of STEPS.entries()) {
      await step.arrange?.(payments)
      write(`\n${index + 1}. ${step.title}`)
      const headers = { ...(step.body === undefined ? {} : { 'content-type': 'application/json' }), ...step.headers }
      const shownHeaders = Object.entries(step.headers ?? {}).map(([name, value]) => ` [${name}: ${value}]`).join('')
      const answers: Answer[] = []
      const observations: string[] = []
      if (step.scene !== undefined) {
        write(`   → ${step.method} ${step.path}, many at once`)
        const { answer, observations: seen } = await step.scene({ shop, base: new URL(base), payments, recommendations, clock })
        write(`   ← last order: ${answer.status} after ${answer.elapsedMs} ms`)
        answers.push(answer)
        observations.push(...seen)
      }
      for (const attempt of step.scene === undefined ? step.attempts ?? [{}] : []) {
        if (attempt.pauseBeforeMs !== undefined) await new Promise((resolve) => setTimeout(resolve, attempt.pauseBeforeMs))
        write(`   → ${step.method} ${step.path}${shownHeaders}${step.body === undefined ? '' : ` ${step.body}`}`)
        const startedAt = performance.now()
        try {
          const response = await fetch(new URL(step.path, base), {
            method: step.method,
            headers,
            ...(step.body === undefined ? {} : { body: step.body }),
            ...(attempt.giveUpAfterMs === undefined ? {} : { signal: AbortSignal.timeout(attempt.giveUpAfterMs) }),
          })
          const text = await response.text()
          const elapsedMs = Math.round(performance.now() - startedAt)
          const replayed = response.headers.get('idempotent-replayed') === null ? '' : ' [idempotent-replayed: true]'
          write(`   ← ${response.status} ${response.headers.get('content-type') ?? ''}${replayed} after ${elapsedMs} ms`)
          write(`     ${text}`)
          answers.push({ status: response.status, text, elapsedMs })
        } catch {
          write(`   ✗ the client gave up after ${attempt.giveUpAfterMs ?? 0} ms`)
        }
      }
      const last = answers.at(-1)
      if (last === undefined) throw new Error(`step "${step.title}" got no answer`)
      observations.push(...await step.observe?.(payments) ?? [])
      const finals = answers.filter((answer) => answer.status !== 409)
      if (finals.length > 1) observations.push(`all ${finals.length} answers after the first ran identical: ${finals.every((answer) => answer.status === last.status && answer.text === last.text) ? 'yes' : 'no'}`)
      for (const line of observations) write(`   ${line}`)
      write(`   why: ${step.why}`)
      results.push({ title: step.title, expectedStatus: step.expectedStatus, status: last.status, body: JSON.parse(last.text) as unknown, elapsedMs: last.elapsedMs, observations })
    }
    if (options.keepMs !== undefined && options.keepMs > 0) {
      write(`\nThe shop keeps running for ${Math.round(options.keepMs / 1000)} s: ${base}`)
      await new Promise((resolve) => setTimeout(resolve, options.keepMs))
    }
  } finally {
    await shop.close()
    await payments.close()
    await recommendations.close()
  }
  return results
}
