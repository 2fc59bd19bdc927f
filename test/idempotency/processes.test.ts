import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest'
import { startChildApp } from '../helpers/child-app.js'
import type { ChildApp } from '../helpers/child-app.js'

const redisUrl = inject('redisUrl')
const redis = new Redis(redisUrl)
let children: ChildApp[] = []
afterEach(async () => {
  await Promise.all(children.map((child) => child.kill('SIGKILL')))
  children = []
})
afterAll(async () => { await redis.quit() })

function charge (port: number, key: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ amount: 42 }),
  })
}

describe('idempotency across processes sharing one Redis', () => {
  it('200 concurrent identical requests over 4 processes run the handler exactly once', async () => {
    const prefix = `proc-${randomUUID()}:`
    children = await Promise.all(Array.from({ length: 4 }, () => startChildApp({ REDIS_URL: redisUrl, PREFIX: prefix, HANDLER_MS: '100' })))
    const key = `burst-${randomUUID()}`
    const responses = await Promise.all(Array.from({ length: 200 }, (_, index) => charge(children[index % 4]?.port ?? 0, key)))
    const statuses = responses.map((res) => res.status)
    const bodies = await Promise.all(responses.map(async (res) => await res.text()))
    expect(Number(await redis.get(`executions:${key}`))).toBe(1)
    expect(statuses.every((status) => status === 200 || status === 409)).toBe(true)
    const answers = new Set(bodies.filter((_, index) => statuses[index] === 200))
    expect(answers.size).toBe(1)
  }, 60_000)

  it('a process killed mid-handler blocks the key only until its lease runs out; the retry then runs once', async () => {
    // Long enough that the 409 check lands within the lease however busy the machine is.
    const leaseMs = 3000
    const prefix = `kill-${randomUUID()}:`
    const [victim, survivor] = children = await Promise.all([
      startChildApp({ REDIS_URL: redisUrl, PREFIX: prefix, HANDLER_MS: '30000', LEASE_MS: String(leaseMs) }),
      startChildApp({ REDIS_URL: redisUrl, PREFIX: prefix, HANDLER_MS: '20', LEASE_MS: String(leaseMs) }),
    ])
    if (victim === undefined || survivor === undefined) throw new Error('apps did not start')
    const key = `kill-${randomUUID()}`
    const pending = charge(victim.port, key).catch(() => undefined)
    while (Number(await redis.get(`executions:${key}`)) < 1) await new Promise((resolve) => setTimeout(resolve, 10))
    await victim.kill('SIGKILL')
    await pending
    expect((await charge(survivor.port, key)).status).toBe(409)
    // The victim renewed at most leaseMs / 3 before it died: its lease has run out by now.
    await new Promise((resolve) => setTimeout(resolve, leaseMs + 200))
    const retry = await charge(survivor.port, key)
    expect(retry.status).toBe(200)
    const replay = await charge(survivor.port, key)
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(await replay.text()).toBe(await retry.text())
    // Once in the killed process, once in the retry, never again.
    expect(Number(await redis.get(`executions:${key}`))).toBe(2)
  }, 60_000)
})
