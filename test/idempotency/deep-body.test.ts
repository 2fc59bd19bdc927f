import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'

let app: FastifyInstance | undefined
afterEach(async () => { await app?.close() })

async function echoApp (): Promise<FastifyInstance> {
  app = Fastify()
  // Parsing half a million levels can lag the event loop on a busy machine;
  // the shedder's 503 for the replay would be deliberate, but is not what this tests.
  await app.register(resilience, { loadShedding: false, idempotency: { unscoped: true } })
  app.post('/deep', { config: { idempotency: { required: true } } }, async (_request, reply) => await reply.code(201).send({ ok: true }))
  return app
}

function nested (depth: number, open = '[', close = ']'): string {
  return open.repeat(depth) + close.repeat(depth)
}

function nestedObjects (depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

describe('deeply nested JSON bodies', () => {
  it.each([
    ['arrays 10,000 deep', nested(10_000)],
    ['arrays 100,000 deep', nested(100_000)],
    ['objects 100,000 deep', nestedObjects(100_000)],
    // Fastify's default body limit is 1 MiB; the innermost pair is wrapped once more below.
    ['arrays as deep as the default body limit allows', nested(Math.floor(1_048_576 / 2) - 1)],
  ])('%s are fingerprinted, stored and replayed, never a 5xx', async (_name, payload) => {
    const server = await echoApp()
    const send = async (key: string) => await server.inject({
      method: 'POST',
      url: '/deep',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      payload,
    })
    const first = await send('deep-1')
    expect(first.statusCode).toBe(201)
    const replay = await send('deep-1')
    expect(replay.statusCode).toBe(201)
    expect(replay.headers['idempotent-replayed']).toBe('true')
    // A different deep body under the same key is another request.
    const other = await server.inject({
      method: 'POST',
      url: '/deep',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'deep-1' },
      payload: `[${payload}]`,
    })
    expect(other.statusCode).toBe(422)
  })
})
