import type { FastifyRequest } from 'fastify'
import resilience from '../../plugins/index.js'
import type { ChaosOptions, ErrorBudgetOptions } from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'

/** An app with problem details, deadlines, chaos and, when asked, error budgets. */
export async function chaosApp (options: ChaosOptions<FastifyRequest>, errorBudget: ErrorBudgetOptions<FastifyRequest> | false = false): Promise<TestApp> {
  const testApp = createTestApp()
  await testApp.app.register(resilience, { loadShedding: false, idempotency: false, errorBudget, chaos: options })
  return testApp
}
