import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { waitFor } from '../helpers/wait-for.js'
import { expectShed, settle, sheddingApp } from './helpers.js'

/*
 * Refusals for event-loop lag or process pressure made in one turn are
 * answered one after the other, a service time apart (the mean time an
 * admitted request held its slot), within retryAfter.spreadMs, so that
 * clients which count Retry-After from their answer do not come back in
 * one turn. Pressure is forced here with a heap threshold of one byte:
 * `low` requests are refused, `critical` ones (never refused for
 * pressure) served, and served ones that take 50 ms set the service time. Timers never fire early, so the lower
 * bounds below hold on any machine.
 */

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

const SERVICE_MS = 50

/** An app whose `low` route is refused for pressure, after three `critical` requests of 50 ms or more were served. */
async function pressedApp (spreadMs: number | undefined, withDeadlines = false): Promise<TestApp> {
  current = await sheddingApp({
    limit: false,
    loopLag: false,
    pressure: { maxEventLoopDelay: 0, maxHeapUsedBytes: 1, sampleInterval: 50 },
    random: () => 0.5,
    ...(spreadMs === undefined ? {} : { retryAfter: { spreadMs } }),
  }, withDeadlines)
  const { app } = current
  app.get('/low', { config: { shedding: { priority: 'low' } } }, async () => ({ served: true }))
  app.get('/critical', { config: { shedding: { priority: 'critical' } } }, async () => { await sleep(SERVICE_MS); return { served: true } })
  await app.ready()
  // Pressure is judged at the first request after under-pressure's first sample.
  await waitFor(() => app.loadShedding.pressure() !== undefined)
  for (let served = 0; served < 3; served++) expect((await app.inject('/critical')).statusCode).toBe(200)
  return current
}

/** Sends `count` requests to `url` in one turn; answers each status and when it came, in ms from the start. */
async function inOneTurn (app: TestApp['app'], url: string, count: number, headers: Record<string, string> = {}): Promise<Array<{ status: number, atMs: number }>> {
  const startedAt = performance.now()
  return await Promise.all(Array.from({ length: count }, async () => {
    const response = await app.inject({ url, headers })
    return { status: response.statusCode, atMs: performance.now() - startedAt }
  }))
}

describe('load shedding: the refusals of one turn for lag or pressure are answered a service time apart', () => {
  it('answers the turn\'s refusals in order, the k-th no sooner than k − ½ service times after the first', async () => {
    // A span far beyond the ten steps, so that none is spread at random over it instead.
    const { app } = await pressedApp(60_000)
    const answers = await inOneTurn(app, '/low', 10)
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(503))
    const times = answers.map((answer) => answer.atMs)
    expect([...times].sort((a, b) => a - b)).toEqual(times)
    // The tenth is due (9 − 1 + ½) × 50 ms = 425 ms after the first, or later if served requests took longer.
    expect(times[9]).toBeGreaterThanOrEqual(8.5 * SERVICE_MS - 5)
  })

  it('keeps every delay within half the request\'s remaining deadline, so the refusal goes out before the 504', async () => {
    const { app } = await pressedApp(60_000, true)
    // Fifty refusals a service time apart would take 2.5 s; the deadline is 600 ms.
    const answers = await inOneTurn(app, '/low', 50, { 'x-request-timeout-ms': '600' })
    expect(answers.map((answer) => answer.status)).toEqual(Array(50).fill(503))
  })

  it('answers the refusals still waiting as soon as the app closes', async () => {
    const { app } = await pressedApp(60_000)
    let answered = 0
    const refused = Array.from({ length: 10 }, async () => {
      const response = await app.inject('/low')
      answered++
      return response
    })
    await waitFor(() => app.loadShedding.stats().shed.total === 10)
    // The first is answered at once; the last is due 425 ms after it.
    await app.close()
    await settle(app)
    expect(answered).toBe(10)
    for (const response of await Promise.all(refused)) expectShed(response, 'pressure')
  })

  it('answers refusals for a full limit at once: slots free by themselves whenever clients come back', async () => {
    current = await sheddingApp({ loopLag: false, pressure: false, limit: 1, maxQueue: 0, random: () => 0.5, retryAfter: { spreadMs: 60_000 } })
    const { app } = current
    let gate = deferred()
    app.get('/work', async () => { await gate.promise; return {} })
    // One request served, held 50 ms or more: the service time that would space refusals.
    const first = app.inject('/work')
    await sleep(SERVICE_MS)
    gate.resolve()
    await first
    gate = deferred()
    const held = app.inject('/work')
    await settle(app)
    // Spaced like refusals for pressure, the later of these would wait up to half a minute, past the test's timeout.
    const answers = await inOneTurn(app, '/work', 40)
    expect(answers.map((answer) => answer.status)).toEqual(Array(40).fill(503))
    gate.resolve()
    await held
  })
})
