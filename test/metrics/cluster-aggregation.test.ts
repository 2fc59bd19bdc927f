import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AggregatorRegistry, Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { failing, startDependency } from '../dependencies/helpers.js'
import type { DependencyServer } from '../dependencies/helpers.js'
import { expectMetricsClean } from '../helpers/promtool.js'
import { expectBreakerAlert, parseExposition, valueOf } from './helpers.js'
import type { Sample } from './helpers.js'

/*
 * A node:cluster app's metrics, as prom-client users expose them: each
 * worker has its registry, and the primary's AggregatorRegistry combines
 * the workers' getMetricsAsJSON() with each metric's aggregator. Here two
 * apps with a registry each stand for two workers, and the real
 * AggregatorRegistry.aggregate(), which the primary runs on what the
 * workers send it, combines them. Summed, a flag read 2 and a ratio 2, and
 * the breaker alert, which asked for a state gauge of exactly 1, went
 * quiet once every worker's breaker was open.
 */

let payments: DependencyServer
const workers: FastifyInstance[] = []
let aggregated: Sample[]
let exposition: string
let dir: string

async function worker (): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(resilience, {
    metrics: { registry: new Registry() },
    chaos: { enabled: true },
    dependencies: { payments: { baseUrl: payments.url, breaker: { consecutiveFailures: 2, openMs: 600_000 } } },
  })
  app.get('/pay', { config: { chaos: false } }, async (request) => (await request.dependency('payments').fetch('/charges')).status)
  await app.ready()
  // Every call fails until the breaker opens, and the rest are refused.
  for (let call = 0; call < 4; call++) await app.inject('/pay')
  return app
}

beforeAll(async () => {
  payments = await startDependency(failing(500))
  workers.push(await worker(), await worker())
  const perWorker = await Promise.all(workers.map(async (app) => await (app.resilienceMetrics.registry as Registry).getMetricsAsJSON()))
  exposition = await AggregatorRegistry.aggregate(perWorker).metrics()
  aggregated = parseExposition(exposition)
  dir = mkdtempSync(join(tmpdir(), 'frs-cluster-metrics-'))
})

afterAll(async () => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  await Promise.all(workers.map(async (app) => await app.close()))
  await payments?.close()
})

describe('metrics of several workers, combined by prom-client\'s AggregatorRegistry', () => {
  it('each worker\'s breaker is open (the test depends on it)', () => {
    for (const app of workers) expect(app.dependencies.stats().payments?.state).toBe('open')
  })

  it('a flag stays a flag: chaos_enabled is 1 with chaos on in both workers, not 2', () => {
    expect(valueOf(aggregated, 'chaos_enabled')).toBe(1)
  })

  it('a ratio stays a ratio: the breaker\'s failure ratio is the largest of the workers\', not their sum', () => {
    for (const app of workers) expect(app.dependencies.stats().payments?.failureRate).toBe(1)
    expect(valueOf(aggregated, 'dependency_failure_ratio', { dependency: 'payments' })).toBe(1)
  })

  it('counts add up: the breaker state counts the workers in each state', () => {
    expect(valueOf(aggregated, 'dependency_breaker_state', { dependency: 'payments', state: 'open' })).toBe(2)
    expect(valueOf(aggregated, 'dependency_breaker_state', { dependency: 'payments', state: 'closed' })).toBe(0)
    expect(valueOf(aggregated, 'dependency_calls_total', { dependency: 'payments' })).toBe(8)
  })

  it('the combined exposition passes promtool check metrics', async () => {
    await expectMetricsClean(exposition)
  })

  it('DependencyBreakerOpen fires on the combined series when every worker\'s breaker is open', async () => {
    const open = valueOf(aggregated, 'dependency_breaker_state', { dependency: 'payments', state: 'open' })
    writeFileSync(join(dir, 'resilience.yml'), workers[0]?.resilienceMetrics.prometheusRules() ?? '')
    await expectBreakerAlert(join(dir, 'resilience.yml'), { payments: `0 0 ${open}x20` })
  })
})
