import { afterEach, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { createTestApp, LOG_LEVEL } from '../helpers/app.js'
import resilience from '../../plugins/index.js'
import { listen } from '../helpers/listen.js'
import { chaosApp } from './helpers.js'
import { waitFor } from '../helpers/wait-for.js'
import { rawGet } from '../helpers/raw-http.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

async function timedFetch (url: string): Promise<{ status: number, body: string, elapsedMs: number }> {
  const startedAt = performance.now()
  const response = await fetch(url)
  return { status: response.status, body: await response.text(), elapsedMs: performance.now() - startedAt }
}

describe('chaos faults over real sockets', () => {
  it('injects nothing until enabled', async () => {
    current = await chaosApp({})
    const { app } = current
    app.get('/x', { config: { chaos: { faults: [{ type: 'error', rate: 1, status: 500 }] } } }, async () => ({ ok: true }))
    const port = await listen(app)
    expect((await timedFetch(`http://127.0.0.1:${port}/x`)).status).toBe(200)
    expect(app.chaos.stats()).toMatchObject({ enabled: false, injected: { total: 0 } })
  })

  it('adds latency, then runs the handler; the fault is logged with its source', async () => {
    current = await chaosApp({ enabled: true })
    const { app, logs } = current
    app.get('/x', { config: { chaos: { faults: [{ type: 'latency', rate: 1, ms: 80 }] } } }, async () => ({ ok: true }))
    const port = await listen(app)
    const answer = await timedFetch(`http://127.0.0.1:${port}/x`)
    expect(answer.status).toBe(200)
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(75)
    expect(logs.find((line) => line.msg === 'chaos fault injected')).toMatchObject({ level: LOG_LEVEL.warn, chaos: { source: 'route', fault: 'latency 80 ms' } })
  })

  it('holds a request whose injected delay reaches its deadline until the deadline answers 504; the route never runs', async () => {
    current = await chaosApp({ enabled: true })
    const { app } = current
    let ran = 0
    app.get('/x', { config: { deadline: { timeoutMs: 100 }, chaos: { faults: [{ type: 'latency', rate: 1, ms: 60_000 }] } } }, async () => { ran++; return { ok: true } })
    const port = await listen(app)
    // Cut to the time left, the delay ended a moment before the deadline's
    // timer in most requests, and the route answered 200 with no time left.
    for (let request = 0; request < 10; request++) {
      const answer = await timedFetch(`http://127.0.0.1:${port}/x`)
      expect(answer.status).toBe(504)
      expect(answer.elapsedMs).toBeLessThan(5000)
    }
    expect(ran).toBe(0)
    await waitFor(() => app.chaos.stats().active === 0)
  })

  it('clears a delay\'s timer when the client leaves', async () => {
    current = await chaosApp({ enabled: true })
    const { app } = current
    let ran = false
    app.get('/x', { config: { deadline: false, chaos: { faults: [{ type: 'latency', rate: 1, ms: 60_000 }] } } }, async () => { ran = true; return {} })
    const port = await listen(app)
    const socket = rawGet(port, '/x')
    await waitFor(() => app.chaos.stats().active === 1)
    socket.destroy()
    await waitFor(() => app.chaos.stats().active === 0)
    expect(ran).toBe(false)
  })

  it('answers an injected error as a problem, saying it was injected only to authorised callers', async () => {
    current = await chaosApp({ enabled: true, requests: { authorize: (request) => request.headers['x-ops'] === 'yes' } })
    const { app } = current
    app.get('/x', { config: { chaos: { faults: [{ type: 'error', rate: 1, status: 503 }] } } }, async () => ({ ok: true }))
    const port = await listen(app)
    const anyone = await fetch(`http://127.0.0.1:${port}/x`)
    expect(anyone.status).toBe(503)
    expect(anyone.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    const anyoneBody = await anyone.json() as Record<string, unknown>
    expect(anyoneBody).toMatchObject({ status: 503, detail: 'The request failed.' })
    expect(anyoneBody.injected).toBeUndefined()
    const ops = await (await fetch(`http://127.0.0.1:${port}/x`, { headers: { 'x-ops': 'yes' } })).json() as Record<string, unknown>
    expect(ops).toMatchObject({ status: 503, injected: 'route', detail: 'This error was injected on purpose (route).' })
  })

  it('throws an injected exception into the error handler: a 500 problem, logged', async () => {
    current = await chaosApp({ enabled: true })
    const { app, logs } = current
    app.get('/x', { config: { chaos: { faults: [{ type: 'exception', rate: 1, message: 'boom from chaos' }] } } }, async () => ({ ok: true }))
    const port = await listen(app)
    const answer = await timedFetch(`http://127.0.0.1:${port}/x`)
    expect(answer.status).toBe(500)
    expect(JSON.parse(answer.body)).toMatchObject({ status: 500 })
    expect(answer.body).not.toContain('boom from chaos')
    expect(logs.some((line) => line.level === LOG_LEVEL.error && line.err?.message === 'boom from chaos')).toBe(true)
  })

  it('drops the connection for an abort fault', async () => {
    current = await chaosApp({ enabled: true })
    const { app } = current
    app.get('/x', { config: { chaos: { faults: [{ type: 'abort', rate: 1 }] } } }, async () => ({ ok: true }))
    const port = await listen(app)
    await expect(fetch(`http://127.0.0.1:${port}/x`)).rejects.toThrow()
  })

  it('hangs until the deadline answers 504', async () => {
    current = await chaosApp({ enabled: true })
    const { app } = current
    let ran = false
    app.get('/x', { config: { deadline: { timeoutMs: 100 }, chaos: { faults: [{ type: 'hang', rate: 1 }] } } }, async () => { ran = true; return {} })
    const port = await listen(app)
    const answer = await timedFetch(`http://127.0.0.1:${port}/x`)
    expect(answer.status).toBe(504)
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(90)
    expect(ran).toBe(false)
    await waitFor(() => app.chaos.stats().active === 0)
  })

  it('never faults excluded routes: health, metrics, status, and routes with chaos: false', async () => {
    current = await chaosApp({ enabled: true, experiments: [{ name: 'everything', faults: [{ type: 'error', rate: 1, status: 500 }] }] })
    const { app } = current
    app.get('/health', async () => 'ok')
    app.get('/metrics', async () => 'ok')
    app.get('/internal', { config: { chaos: false } }, async () => 'ok')
    app.get('/work', async () => 'ok')
    const port = await listen(app)
    for (const path of ['/health', '/metrics', '/internal']) expect((await fetch(`http://127.0.0.1:${port}${path}`)).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${port}/work`)).status).toBe(500)
  })

  it('spares the excluded routes under the prefix it is registered with: an application\'s own /v1/health', async () => {
    const testApp = createTestApp()
    current = testApp
    await testApp.app.register(async (v1) => {
      await v1.register(resilience, { loadShedding: false, idempotency: false, chaos: { enabled: true, experiments: [{ name: 'everything', faults: [{ type: 'error', rate: 1, status: 503 }] }] } })
      v1.get('/health', async () => 'ok')
      v1.get('/status', async () => 'ok')
      v1.get('/orders', async () => 'ok')
    }, { prefix: '/v1' })
    const port = await listen(testApp.app)
    for (const path of ['/v1/health', '/v1/status']) expect((await fetch(`http://127.0.0.1:${port}${path}`)).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${port}/v1/orders`)).status).toBe(503)
  })
})
