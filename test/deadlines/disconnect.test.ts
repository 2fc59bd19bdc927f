import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import type { DeadlineOutcome } from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

async function setup (): Promise<TestApp> {
  current = createTestApp()
  await current.app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 5000 } })
  return current
}

/** Opens a raw connection, sends the bytes, and returns the socket and what it receives. */
function rawClient (port: number, bytes: string): { received: () => string, destroy: () => void } {
  const socket = connect(port, '127.0.0.1')
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
  socket.on('error', () => {})
  socket.write(bytes)
  return { received: () => received, destroy: () => socket.destroy() }
}

interface Observation { reason: unknown, outcome: DeadlineOutcome }

describe('client disconnect', () => {
  it('aborts the signal with a client-gone reason and sends nothing', async () => {
    const { app, logs } = await setup()
    const started = deferred()
    const observed = deferred<Observation>()
    const sentAfterwards = deferred<boolean>()
    app.get('/slow', async (request, reply) => {
      request.deadline.signal.addEventListener('abort', () => {
        observed.resolve({ reason: request.deadline.signal.reason, outcome: request.deadline.outcome })
        setImmediate(() => sentAfterwards.resolve(reply.raw.headersSent))
      })
      started.resolve()
      await new Promise(() => {})
    })
    const port = await listen(app)
    const client = rawClient(port, 'GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await started.promise
    client.destroy()
    const { reason, outcome } = await observed.promise
    expect(reason).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED', statusCode: 499 })
    expect(outcome).toBe('client-closed')
    expect(await sentAfterwards.promise).toBe(false)
    expect(client.received()).toBe('')
    expect(logs.some((line) => line.msg === 'client closed the connection before the response; its work was aborted')).toBe(true)
  })

  it('a POST whose body has been read keeps its signal until the client really leaves', async () => {
    const { app } = await setup()
    const states: boolean[] = []
    app.post('/orders', async (request) => {
      states.push(request.deadline.signal.aborted)
      await new Promise((resolve) => setTimeout(resolve, 100))
      states.push(request.deadline.signal.aborted)
      return { received: request.body }
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ productId: 1, note: 'x'.repeat(50_000) }),
    })
    expect(res.status).toBe(200)
    expect(states).toEqual([false, false])
  })

  it('a POST whose client leaves after sending the body is aborted as client-gone', async () => {
    const { app } = await setup()
    const bodyRead = deferred()
    const observed = deferred<unknown>()
    app.post('/orders', async (request) => {
      request.deadline.signal.addEventListener('abort', () => observed.resolve(request.deadline.signal.reason))
      bodyRead.resolve()
      await new Promise(() => {})
    })
    const port = await listen(app)
    const body = JSON.stringify({ productId: 1 })
    const client = rawClient(port, `POST /orders HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    await bodyRead.promise
    client.destroy()
    expect(await observed.promise).toMatchObject({ code: 'FRS_ERR_CLIENT_CLOSED' })
  })

  it('a response that completes normally aborts nothing', async () => {
    const { app } = await setup()
    const signals: AbortSignal[] = []
    app.get('/fast', async (request) => {
      signals.push(request.deadline.signal)
      return { ok: true }
    })
    const port = await listen(app)
    const res = await fetch(`http://127.0.0.1:${port}/fast`)
    await res.text()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(signals[0]?.aborted).toBe(false)
  })
})
