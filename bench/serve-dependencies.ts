import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import resilience, { dependencies } from '../plugins/index.js'

/*
 * Processes of the dependencies benchmark. Usage:
 *   serve-dependencies.ts dependency       a downstream service whose mode POST /_mode?to=… changes
 *   serve-dependencies.ts plain <url>      routes calling <url> with fetch and a timeout
 *   serve-dependencies.ts policies <url>   the same routes through request.dependency()
 *   serve-dependencies.ts alone <url>      /cost through the dependencies plugin registered alone
 * Each prints the port it listens on.
 */

type Mode = 'healthy' | 'dead' | 'flaky' | 'tail' | 'held'

/** The downstream: counts the calls it receives and answers as its mode says. */
function dependency (): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true })
  let mode: Mode = 'healthy'
  let calls = 0
  let held: Array<() => void> = []
  app.get('/data', async (_request, reply) => {
    calls++
    switch (mode) {
      case 'healthy':
        return { ok: true }
      case 'dead':
        // Accepts the call and never answers, as a host that hangs.
        await new Promise((resolve) => reply.raw.once('close', resolve))
        return reply.hijack()
      case 'flaky':
        return Math.random() < 0.5 ? reply.code(500).send({ error: 'flaky' }) : { ok: true }
      case 'tail':
        // 5 % of calls ten times slower.
        await new Promise((resolve) => setTimeout(resolve, Math.random() < 0.05 ? 100 : 10))
        return { ok: true }
      case 'held':
        await new Promise<void>((resolve) => held.push(resolve))
        return { ok: true }
    }
  })
  app.post<{ Querystring: { to: Mode } }>('/_mode', async (request) => {
    mode = request.query.to
    calls = 0
    return { mode }
  })
  app.post('/_release', async () => {
    const released = held.length
    for (const resolve of held) resolve()
    held = []
    return { released }
  })
  app.get('/_calls', async () => ({ calls }))
  return app
}

const OUTAGE_TIMEOUT_MS = 200
/** Every policy a healthy call goes through in the cost scenario. */
const COST = {
  breaker: { failureRate: 0.5, minimumCalls: 20 },
  retry: { attempts: 3 },
  bulkhead: { maxConcurrent: 1024, maxQueue: 1024 },
  fallback: { value: { ok: false } },
}

async function plain (url: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  const call = async (timeoutMs: number): Promise<boolean> => {
    try {
      const response = await fetch(`${url}/data`, { signal: AbortSignal.timeout(timeoutMs) })
      await response.arrayBuffer()
      return response.ok
    } catch {
      return false
    }
  }
  const answer = (ok: boolean, reply: import('fastify').FastifyReply): unknown => ok ? reply.send({ ok }) : reply.code(502).send({ ok })
  app.get('/outage', async (_request, reply) => answer(await call(OUTAGE_TIMEOUT_MS), reply))
  app.get('/storm', async (_request, reply) => answer(await call(1000), reply))
  // Naive retries: up to three attempts, at once.
  app.get('/storm-naive', async (_request, reply) => {
    for (let attempt = 0; attempt < 3; attempt++) if (await call(1000)) return reply.send({ ok: true })
    return reply.code(502).send({ ok: false })
  })
  app.get('/tail', async (_request, reply) => answer(await call(1000), reply))
  app.get('/coalesce', async (_request, reply) => answer(await call(10_000), reply))
  app.get('/cost', async (_request, reply) => answer(await call(1000), reply))
  return app
}

async function policies (url: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(resilience, {
    loadShedding: false,
    idempotency: false,
    errorBudget: false,
    chaos: false,
    dependencies: {
      // Open periods do not grow here, so recovery shows openMs plus one probe.
      outage: { baseUrl: url, timeoutMs: OUTAGE_TIMEOUT_MS, breaker: { consecutiveFailures: 5, openMs: 2_000, maxOpenMs: 2_000 } },
      // A bulkhead sized for the normal concurrency (rate × usual latency, well under 1): hung calls hold at most its slots.
      'outage-bulkhead': { baseUrl: url, timeoutMs: OUTAGE_TIMEOUT_MS, breaker: { consecutiveFailures: 5, openMs: 2_000, maxOpenMs: 2_000 }, bulkhead: { maxConcurrent: 4, maxQueue: 0 } },
      'outage-rate': { baseUrl: url, timeoutMs: OUTAGE_TIMEOUT_MS, breaker: { failureRate: 0.5, minimumCalls: 20, windowMs: 2_000, openMs: 2_000, maxOpenMs: 2_000 } },
      storm: { baseUrl: url, breaker: false, retry: { attempts: 3, backoff: { initialMs: 0, maxMs: 0 } } },
      // The hedge percentile sits below the share of slow calls (5 %), or it would wait as long as they do.
      // Hedges spend the retry budget: a ratio of 0.1 without a floor bounds them to a tenth of the calls.
      tail: { baseUrl: url, hedge: { percentile: 0.93, delayMs: 20 }, breaker: false, retry: { budget: { ratio: 0.1, minPerSecond: 0 } } },
      'tail-unhedged': { baseUrl: url, breaker: false },
      coalesce: { baseUrl: url, timeoutMs: 10_000, coalesce: true },
      cost: { baseUrl: url, ...COST },
    },
  })
  for (const name of ['outage', 'outage-rate', 'outage-bulkhead', 'storm', 'tail', 'tail-unhedged', 'coalesce', 'cost']) {
    app.get(`/${name}`, async (request) => await (await request.dependency(name).fetch('/data')).json())
  }
  // The same call with the deadline's fetch alone: separates the cost of deadlines from that of the policies.
  app.get('/cost-deadline-fetch', async (request, reply) => {
    const response = await request.deadline.fetch(`${url}/data`, { signal: AbortSignal.timeout(1000) })
    const body: unknown = await response.json()
    return response.ok ? body : reply.code(502).send(body)
  })
  app.get('/_stats', async () => app.dependencies.stats())
  return app
}

/** The dependencies capability alone, without the umbrella's other capabilities: the cost of the policies themselves. */
async function alone (url: string): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(dependencies, { cost: { baseUrl: url, ...COST } })
  app.get('/cost', async (request) => await (await request.dependency('cost').fetch('/data')).json())
  return app
}

const [role, url = ''] = process.argv.slice(2)
const roles: Record<string, (url: string) => FastifyInstance | Promise<FastifyInstance>> = { dependency, plain, policies, alone }
const app = await roles[role ?? '']?.(url)
if (app === undefined) throw new TypeError(`serve-dependencies.ts expects dependency, plain <url>, policies <url> or alone <url>, instead got ${String(role)}`)
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : ''}\n`)
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
