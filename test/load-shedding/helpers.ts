import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { expect } from 'vitest'
import resilience from '../../plugins/index.js'
import type { LoadSheddingOptions } from '../../plugins/index.js'
import type { FastifyRequest } from 'fastify'
import { createTestApp } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'

/** An app with problem details and load shedding only (no deadlines unless asked). */
export async function sheddingApp (options: LoadSheddingOptions<FastifyRequest>, withDeadlines = false): Promise<TestApp> {
  const testApp = createTestApp()
  await testApp.app.register(resilience, { deadlines: withDeadlines ? {} : false, idempotency: false, loadShedding: options })
  return testApp
}

/** Asserts a 503 `overloaded` problem with the given reason and a Retry-After, and returns its body. */
export function expectShed (response: LightMyRequestResponse, reason: string): Record<string, unknown> {
  expect(response.statusCode).toBe(503)
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(response.headers['retry-after']).toMatch(/^[1-9]\d*$/)
  const body = response.json<Record<string, unknown>>()
  expect(body).toMatchObject({ type: 'urn:fastify-resilience:problem:overloaded', title: 'Service overloaded', status: 503, reason })
  return body
}

/** Lets pending inject calls reach their hooks. */
export async function settle (app: FastifyInstance, rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve))
  expect(app).toBeDefined()
}
