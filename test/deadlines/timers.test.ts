import Fastify from 'fastify'
import { createHook } from 'node:async_hooks'
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { listen } from '../helpers/listen.js'
import { rawExchange } from '../helpers/raw-http.js'

/*
 * Deadline timers are unref()'d, so process.getActiveResourcesInfo() does
 * not list them; async_hooks sees every Timeout created and destroyed
 * (cleared, or fired) instead.
 */
function trackTimeouts (): { live: () => number, stop: () => void } {
  const live = new Set<number>()
  const hook = createHook({
    init (id, type) { if (type === 'Timeout') live.add(id) },
    destroy (id) { live.delete(id) },
  }).enable()
  return { live: () => live.size, stop: () => { hook.disable() } }
}

/**
 * async_hooks reports destroyed resources in batches; let a batch pass.
 * The settling timer itself may still count as live when it is read.
 */
async function settle (): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setImmediate(resolve))
}

describe('deadline timers', () => {
  it('active handles return to baseline after 10,000 requests', async () => {
    const app = Fastify()
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 60_000 } })
    // Handlers that outlive their arrival turn, so every deadline is armed:
    // in the shared route queue, with a timer of its own (caller budget), or
    // with a sub-budget.
    const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
    app.get('/hello', async (request) => {
      await nextTurn()
      return { remaining: request.deadline.remainingMs() > 0 }
    })
    app.get('/child', async (request) => {
      request.deadline.child(30_000)
      await nextTurn()
      return 'ok'
    })
    app.post('/refused', async () => 'unreached')
    await app.ready()
    const timeouts = trackTimeouts()
    const during: number[] = []
    let created = 0
    const counting = createHook({ init (_id, type) { if (type === 'Timeout') created += 1 } }).enable()
    for (let batch = 0; batch < 100; batch++) {
      await Promise.all(Array.from({ length: 100 }, async (_, index) => {
        const kind = index % 4
        const res = kind === 0
          ? await app.inject('/child')
          : kind === 1
            ? await app.inject({ method: 'POST', url: '/refused', headers: { 'x-request-timeout-ms': '1' } })
            : kind === 2
              ? await app.inject({ url: '/hello', headers: { 'x-request-timeout-ms': '40000' } })
              : await app.inject('/hello')
        expect(res.statusCode).toBe(kind === 1 ? 504 : 200)
      }))
      await settle()
      during.push(timeouts.live())
    }
    counting.disable()
    timeouts.stop()
    // Deadlines were really armed: thousands of timers came and went.
    expect(created).toBeGreaterThan(5000)
    expect(timeouts.live()).toBeLessThanOrEqual(1)
    expect(Math.max(...during)).toBeLessThanOrEqual(1)
    await app.close()
  })

  it('timers of requests over real sockets are cleared too, aborted ones included', async () => {
    const app = Fastify()
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 60_000 } })
    app.get('/hello', async () => 'hi')
    let entered = 0
    let aborted = 0
    app.get('/slow', async (request) => {
      entered += 1
      await new Promise((resolve) => request.deadline.signal.addEventListener('abort', resolve))
      aborted += 1
      return 'never sent'
    })
    const port = await listen(app)
    const timeouts = trackTimeouts()
    for (let index = 0; index < 50; index++) await rawExchange(port, 'GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
    const sockets = Array.from({ length: 20 }, () => {
      const socket = connect(port, '127.0.0.1')
      socket.on('error', () => {})
      socket.write('GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n')
      return socket
    })
    while (entered < sockets.length) await new Promise((resolve) => setTimeout(resolve, 5))
    for (const socket of sockets) socket.destroy()
    while (aborted < sockets.length) await new Promise((resolve) => setTimeout(resolve, 5))
    await settle()
    timeouts.stop()
    expect(timeouts.live()).toBeLessThanOrEqual(1)
    await app.close()
  })
})
