import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { listen } from '../helpers/listen.js'
import { rawGet } from '../helpers/raw-http.js'
import { waitFor } from '../helpers/wait-for.js'
import { budgetApp, parseMetrics } from './helpers.js'

/*
 * A streamed answer's fate is known only after its head is sent: written
 * whole, cut at its deadline, broken off by the server, or left by its
 * client. Each is counted once, under its own label, with the umbrella's
 * deadlines on, over real sockets. A stream to be cut would run for five
 * seconds against a deadline of 300 ms; the others have 10 s.
 */

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const ORDERS = { name: 'orders', availability: 0.99 }
const ROUTE = 'GET /export'
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const line = (n: number): Uint8Array => new TextEncoder().encode(`line ${n}\n`)

/** What a stream of `lines` lines, one every 100 ms, does after its first line. */
type Ending = 'ends' | 'fails'

function nodeStream (lines: number, ending: Ending): Readable {
  let sent = 0
  return new Readable({
    read () {
      setTimeout(() => {
        if (sent === lines) {
          if (ending === 'fails') this.destroy(new Error('the export source went away'))
          else this.push(null)
          return
        }
        sent++
        this.push(line(sent))
      }, sent === 0 ? 0 : 100)
    },
  })
}

function webStream (lines: number, ending: Ending): ReadableStream<Uint8Array> {
  let sent = 0
  return new ReadableStream<Uint8Array>({
    async pull (controller) {
      if (sent > 0) await sleep(100)
      if (sent === lines) {
        if (ending === 'fails') throw new Error('the export source went away')
        controller.close()
        return
      }
      sent++
      controller.enqueue(line(sent))
    },
  })
}

const kinds = {
  'a Node stream': (lines: number, ending: Ending): unknown => nodeStream(lines, ending),
  'a web stream': (lines: number, ending: Ending): unknown => webStream(lines, ending),
  'a fetch Response': (lines: number, ending: Ending): unknown => new Response(webStream(lines, ending)),
}

async function metricsOf (app: FastifyInstance): Promise<Map<string, number>> {
  return parseMetrics(await app.errorBudget.registry?.metrics() ?? '')
}

/** Polls the metrics until `series` reads `value`; the answer is counted once its response has closed. */
async function untilSeries (app: FastifyInstance, series: string, value: number): Promise<Map<string, number>> {
  for (let waited = 0; waited < 10_000; waited += 20) {
    const metrics = await metricsOf(app)
    if (metrics.get(series) === value) return metrics
    await sleep(20)
  }
  throw new Error(`${series} never read ${value}; it reads ${String((await metricsOf(app)).get(series))}`)
}

/** A route that streams `body`; a deadline of 10 s is one no stream here reaches. */
async function exportApp (body: () => unknown, timeoutMs = 10_000): Promise<{ app: FastifyInstance, port: number }> {
  current = await budgetApp({})
  const { app } = current
  app.get('/export', { config: { slo: ORDERS, deadline: { timeoutMs } } }, async (_request, reply) => reply.type('text/plain').send(body()))
  return { app, port: await listen(app) }
}

const bad = (reason: string): string => `slo_bad_events_total{slo="orders",sli="availability",route="${ROUTE}",reason="${reason}"}`
const uncounted = (reason: string): string => `slo_uncounted_events_total{slo="orders",route="${ROUTE}",reason="${reason}"}`
const good = `slo_events_total{slo="orders",sli="availability",route="${ROUTE}",result="good"}`
const deadlineEnded = (outcome: string): string => `deadline_requests_total{route="${ROUTE}",outcome="${outcome}"}`

describe('error budget: streamed answers', () => {
  for (const [kind, stream] of Object.entries(kinds)) {
    it(`counts ${kind} cut at its deadline as bad, labelled deadline, once`, async () => {
      const { app, port } = await exportApp(() => stream(50, 'ends'), 300)
      const res = await fetch(`http://127.0.0.1:${port}/export`)
      expect(res.status).toBe(200)
      await expect(res.text()).rejects.toThrow()
      const metrics = await untilSeries(app, bad('deadline'), 1)
      expect(metrics.get(good)).toBe(0)
      expect(metrics.get(deadlineEnded('expired'))).toBe(1)
      expect(app.errorBudget.status()[0]?.events).toEqual({ total: 1, good: 0, bad: 1 })
    })

    it(`counts ${kind} that fails on the server mid-body as bad, labelled server-error, not as a client that left`, async () => {
      const { app, port } = await exportApp(() => stream(1, 'fails'))
      const logs = current?.logs ?? []
      const res = await fetch(`http://127.0.0.1:${port}/export`)
      expect(res.status).toBe(200)
      await expect(res.text()).rejects.toThrow()
      const metrics = await untilSeries(app, bad('server-error'), 1)
      expect(metrics.get(good)).toBe(0)
      expect(metrics.get(uncounted('client-closed')) ?? 0).toBe(0)
      expect(metrics.get(deadlineEnded('client-closed'))).toBe(0)
      expect(metrics.get(deadlineEnded('expired'))).toBe(0)
      expect(app.errorBudget.status()[0]?.events).toEqual({ total: 1, good: 0, bad: 1 })
      expect(logs.filter((entry) => entry.msg.startsWith('client closed the connection'))).toEqual([])
    })

    it(`leaves out ${kind} whose client left mid-body, counted once as client-closed`, async () => {
      const { app, port } = await exportApp(() => stream(50, 'ends'))
      const logs = current?.logs ?? []
      // A raw connection, closed once the first line has come.
      const socket = rawGet(port, '/export')
      let received = ''
      socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1') })
      await waitFor(() => received.includes('line 1'))
      socket.destroy()
      const metrics = await untilSeries(app, uncounted('client-closed'), 1)
      expect(metrics.get(good)).toBe(0)
      expect(metrics.get(deadlineEnded('client-closed'))).toBe(1)
      expect(app.errorBudget.status()[0]?.events.total).toBe(0)
      expect(logs.filter((entry) => entry.msg.startsWith('client closed the connection')).map((entry) => entry.msg))
        .toEqual(['client closed the connection before the streamed answer was complete; its work was aborted'])
    })

    it(`counts ${kind} written whole within its deadline as good, once`, async () => {
      const { app, port } = await exportApp(() => stream(2, 'ends'))
      const res = await fetch(`http://127.0.0.1:${port}/export`)
      expect(await res.text()).toBe('line 1\nline 2\n')
      await waitFor(() => app.errorBudget.status()[0]?.events.total === 1)
      expect(app.errorBudget.status()[0]?.events).toEqual({ total: 1, good: 1, bad: 0 })
    })
  }

  it('counts a stream that fails before its head once, as the server error it is answered with', async () => {
    const { app, port } = await exportApp(() => new Readable({ read () { this.destroy(new Error('no such export')) } }))
    const res = await fetch(`http://127.0.0.1:${port}/export`)
    expect(res.status).toBe(500)
    await res.text()
    const metrics = await untilSeries(app, bad('server-error'), 1)
    expect(metrics.get(good)).toBe(0)
    expect(app.errorBudget.status()[0]?.events).toEqual({ total: 1, good: 0, bad: 1 })
  })
})
