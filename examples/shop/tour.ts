import { buildShop } from './app.js'
import { startPayments } from './payments.js'
import type { PaymentsService } from './payments.js'

export interface TourResult {
  title: string
  expectedStatus: number
  status: number
  body: unknown
}

interface Step {
  title: string
  method: 'GET' | 'POST'
  path: string
  body?: string
  headers?: Record<string, string>
  /** What to set up on the payment provider before the request. */
  arrange?: (payments: PaymentsService) => Promise<void> | void
  expectedStatus: number
  why: string
}

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
    title: 'The payment provider fails',
    method: 'POST',
    path: '/orders',
    body: JSON.stringify({ productId: 2, quantity: 1 }),
    arrange: (payments) => { payments.behaviour.failureRate = 1 },
    expectedStatus: 502,
    why: 'The handler throws a ProblemError: a deliberate 5xx whose detail is public, unlike an unexpected crash.',
  },
  {
    title: 'The payment provider is gone',
    method: 'POST',
    path: '/orders',
    body: JSON.stringify({ productId: 3, quantity: 1 }),
    arrange: (payments) => payments.close(),
    expectedStatus: 503,
    why: 'The connection is refused; the shop says so with `payments-unavailable` instead of a bare 500.',
  },
]

/**
 * Starts the shop and its payment provider in-process, sends each step's
 * request over real HTTP, and writes what was sent, what came back and why.
 */
export async function runTour (write: (line: string) => void): Promise<TourResult[]> {
  const payments = await startPayments({ latencyMs: 20, failureRate: 0 })
  const shop = await buildShop({ paymentsUrl: payments.url, logger: false })
  const base = await shop.listen({ port: 0, host: '127.0.0.1' })
  const results: TourResult[] = []
  try {
    for (const [index, step] of STEPS.entries()) {
      await step.arrange?.(payments)
      write(`\n${index + 1}. ${step.title}`)
      write(`   → ${step.method} ${step.path}${step.body === undefined ? '' : ` ${step.body}`}`)
      const response = await fetch(new URL(step.path, base), {
        method: step.method,
        headers: step.body === undefined ? {} : { 'content-type': 'application/json' },
        ...(step.body === undefined ? {} : { body: step.body }),
      })
      const text = await response.text()
      write(`   ← ${response.status} ${response.headers.get('content-type') ?? ''}`)
      write(`     ${text}`)
      write(`   why: ${step.why}`)
      results.push({ title: step.title, expectedStatus: step.expectedStatus, status: response.status, body: JSON.parse(text) as unknown })
    }
  } finally {
    await shop.close()
    await payments.close()
  }
  return results
}
