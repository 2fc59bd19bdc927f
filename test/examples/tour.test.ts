import { describe, expect, it } from 'vitest'
import { runTour } from '../../examples/shop/tour.js'

const GAME_DAY = 'A game day: chaos on orders, stopped by the error budget'
// The tour spends seconds of real time by design (the game day's latency
// faults last 1–4 s) and sends a few thousand requests: took 18 s of the
// default 20 s on a busy machine. The timeout only guards against a hang.
const TOUR_TIMEOUT_MS = 120_000

describe('shop demo tour', () => {
  it('every step answers the status it explains, as a problem when it fails', async () => {
    const lines: string[] = []
    const results = await runTour((line) => lines.push(line))
    expect(results.map((result) => [result.title, result.status, result.status === result.expectedStatus ? 'as expected' : result.body])).toEqual(results.map((result) => [result.title, result.expectedStatus, 'as expected']))
    expect(results.map((result) => result.status)).toEqual([201, 400, 400, 404, 404, 201, 504, 201, 502, 201, 201, 502, 502])
    for (const result of results.filter((entry) => entry.status >= 400)) {
      expect(result.body).toMatchObject({ status: result.status, instance: expect.any(String) })
    }
    expect(results[1]?.body).toMatchObject({ errors: [{ location: 'body', pointer: '/productId' }] })
    expect(lines.filter((line) => line.startsWith('   why: '))).toHaveLength(results.length)

    const flood = results[5]
    const shedCount = Number(/(\d+) shed with 503 overloaded \(reason: pressure\), Retry-After \d+–\d+ s$/.exec(flood?.observations[0] ?? '')?.[1])
    expect(shedCount).toBeGreaterThan(0)
    // Orders are critical: none is shed. One may time out on the payment
    // provider, which shares the shop's busy process (the scene says so).
    const ordersLine = /^POST \/orders ×5 meanwhile: (\d+) created((?:, 504 dependency-timeout \(timeout\))*), in (?:\d+, ){4}\d+ ms$/.exec(flood?.observations[1] ?? '')
    expect(ordersLine, flood?.observations[1]).not.toBeNull()
    const ordersTimedOut = (ordersLine?.[2] ?? '').split(', 504').length - 1
    expect(Number(ordersLine?.[1]) + ordersTimedOut).toBe(5)
    expect(JSON.parse(flood?.observations[2]?.replace('a shed answer: ', '') ?? '{}')).toMatchObject({ status: 503, reason: 'pressure', priority: 'low' })

    const deadlineStep = results[6]
    expect(deadlineStep?.body).toMatchObject({ type: 'https://shop.example.com/problems/deadline-exceeded', timeoutMs: 290 })
    const forwarded = Number(/x-request-timeout-ms: (\d+)/.exec(deadlineStep?.observations[0] ?? '')?.[1])
    expect(forwarded).toBeGreaterThan(0)
    expect(forwarded).toBeLessThanOrEqual(290)
    expect(deadlineStep?.observations[1]).toBe('provider call abandoned by the shop: true; customer charged: no')

    const burning = results[8]
    expect(burning?.observations[0]).toMatch(/^after a healthy day of 800 orders: ok, \d+% of the budget left/)
    expect(burning?.observations.at(-1)).toMatch(/^after 6 failed orders: critical, \d+% of the budget left, burning \d+× over 1h and \d+× over 5m$/)

    const gameDay = results[9]
    expect(gameDay?.title).toBe(GAME_DAY)
    expect(gameDay?.observations[1]).toBe('chaos enabled: true; experiment game-day for 20 s, seed 7')
    expect(gameDay?.observations.at(-2)).toMatch(/^chaos stopped itself: SLO orders \(availability\) turned critical; \d+ faults injected/)
    expect(gameDay?.observations.at(-1)).toMatch(/^the next order: 201 after \d+ ms$/)
    expect(burning?.body).toMatchObject({ status: 502 })

    const outage = results[10]
    expect(outage?.title).toBe('The payment provider goes down, then comes back')
    const [healthyPicks, down, refused, received, stalePicks, probe, breaker] = outage?.observations ?? []
    expect(healthyPicks).toMatch(/^GET \/picks while healthy: 200, .*"degraded":false/)
    const timedOut = Number(/504×(\d+)/.exec(down ?? '')?.[1] ?? 0)
    const failedFast = Number(/503×(\d+)/.exec(down ?? '')?.[1] ?? 0)
    expect(timedOut).toBe(3)
    expect(failedFast).toBe(7)
    // Refused orders answer faster than any that waited on the dead host.
    const slowestRefusal = Number(/503×\d+ \(\d+–(\d+) ms\)/.exec(down ?? '')?.[1])
    const fastestTimeout = Number(/504×\d+ \((\d+)–\d+ ms\)/.exec(down ?? '')?.[1])
    expect(slowestRefusal).toBeLessThan(fastestTimeout)
    expect(JSON.parse(refused?.replace('a refused order: ', '') ?? '{}')).toMatchObject({ status: 503, dependency: 'payments', reason: 'breaker-open' })
    expect(received).toBe(`calls the dead provider received: ${timedOut} for 10 orders`)
    expect(stalePicks).toMatch(/^GET \/picks meanwhile: 200 after \d+ ms, x-degraded: recommendations, .*"degraded":true/)
    expect(probe).toMatch(/^provider back; the next order is the probe: 201 after \d+ ms \(1 call\)$/)
    expect(breaker).toBe('breaker: closed → open for 2000 ms, open → half-open, half-open → closed')
    expect(results[11]?.body).toMatchObject({ status: 502, dependency: 'payments', reason: 'status' })
    expect(results[12]?.body).toMatchObject({ status: 502, dependency: 'payments', reason: 'network' })

    const retried = results[7]
    expect(retried?.observations).toEqual(['customer charged 1 time for 4 attempts', 'all 2 answers after the first ran identical: yes'])
  }, TOUR_TIMEOUT_MS)
})
