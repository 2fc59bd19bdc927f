import type { FastifyRequest } from 'fastify'
import resilience from '../../plugins/index.js'
import type { ErrorBudgetOptions, LoadSheddingOptions } from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'

/** An app with problem details, deadlines and error budgets; load shedding only when asked. */
export async function budgetApp (options: ErrorBudgetOptions<FastifyRequest>, loadShedding: LoadSheddingOptions<FastifyRequest> | false = false): Promise<TestApp> {
  const testApp = createTestApp()
  await testApp.app.register(resilience, { idempotency: false, loadShedding, errorBudget: options })
  return testApp
}

/** Parses Prometheus text exposition into "name{labels}" → value. */
export function parseMetrics (text: string): Map<string, number> {
  const series = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    series.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return series
}
