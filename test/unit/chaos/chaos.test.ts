import { describe, expect, it } from 'vitest'
import { ChaosController, Experiment, parseRequestedFault, resolveFault, seededRandom, signFault, verifyFaultSignature } from '../../../src/chaos/index.js'
import type { RequestFacts } from '../../../src/chaos/index.js'

const FACTS: RequestFacts = { method: 'GET', route: '/orders/:id', path: '/orders/7', headers: {} }

describe('seededRandom', () => {
  it('gives the same sequence for the same seed, another for another seed', () => {
    const a = seededRandom(42)
    const b = seededRandom(42)
    const c = seededRandom(43)
    const first = Array.from({ length: 5 }, () => a())
    expect(Array.from({ length: 5 }, () => b())).toEqual(first)
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(first)
    for (const value of first) expect(value >= 0 && value < 1).toBe(true)
  })
})

describe('resolveFault', () => {
  it.each([
    [{ type: 'error', rate: -0.1, status: 500 }, "option 'f.rate' expects a number from 0 to 1"],
    [{ type: 'error', rate: 1.5, status: 500 }, "option 'f.rate' expects a number from 0 to 1"],
    [{ type: 'error', rate: Number.NaN, status: 500 }, "option 'f.rate' expects a number from 0 to 1"],
    [{ type: 'error', rate: 0.1, status: 399 }, "option 'f.status' expects an HTTP error status from 400 to 599"],
    [{ type: 'error', rate: 0.1, status: 600 }, "option 'f.status' expects an HTTP error status from 400 to 599"],
    [{ type: 'explode', rate: 0.1 }, "option 'f.type' expects one of 'latency', 'error', 'exception', 'abort', 'hang'"],
    [{ type: 'latency', rate: 0.1 }, "option 'f' expects a latency fault with ms, minMs and maxMs, or meanMs and stdDevMs"],
    [{ type: 'latency', rate: 0.1, minMs: 50, maxMs: 10 }, "option 'f.maxMs' expects at least minMs (50)"],
    [{ type: 'hang', rate: 0.1, match: { path: 'orders' } }, "option 'f.match.path' expects a path starting with /"],
  ])('refuses %o', (spec, message) => {
    expect(() => resolveFault(spec, 'f')).toThrow(expect.objectContaining({ code: 'FRS_ERR_OPTION_INVALID', message: expect.stringContaining(message) as string }))
  })

  it.each([
    [{ type: 'abort', rate: 0.1, status: 500 }, "unknown option 'status' in f (type 'abort'); expected one of: type, rate, match"],
    [{ type: 'error', rate: 0.1, status: 500, statusCode: 500 }, "unknown option 'statusCode' in f (type 'error'); expected one of: type, rate, match, status, detail"],
    [{ type: 'error', rate: 0.1, status: 500, match: { url: '/x' } }, "unknown option 'url' in f.match; expected one of: methods, path, header, dependency"],
  ])('refuses %o as an unknown option, naming the known ones', (spec, message) => {
    expect(() => resolveFault(spec, 'f')).toThrow(expect.objectContaining({ code: 'FRS_ERR_OPTION_UNKNOWN', message: `fastify-resilience: ${message}` }))
  })

  it('draws latency from its distribution', () => {
    const random = seededRandom(1)
    expect(resolveFault({ type: 'latency', rate: 1, ms: 120 }, 'f').delayMs(random)).toBe(120)
    const uniform = resolveFault({ type: 'latency', rate: 1, minMs: 100, maxMs: 200 }, 'f')
    const samples = Array.from({ length: 1000 }, () => uniform.delayMs(random))
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(100)
    expect(Math.max(...samples)).toBeLessThanOrEqual(200)
    const normal = resolveFault({ type: 'latency', rate: 1, meanMs: 100, stdDevMs: 10 }, 'f')
    const mean = Array.from({ length: 5000 }, () => normal.delayMs(random)).reduce((sum, value) => sum + value, 0) / 5000
    expect(mean).toBeGreaterThan(98)
    expect(mean).toBeLessThan(102)
  })
})

describe('Experiment', () => {
  it('injects at its rate within statistical bounds, and replays the same decisions from the same seed', () => {
    const spec = { name: 'thirty', seed: 2024, faults: [{ type: 'error', rate: 0.3, status: 503 }] }
    const decide = (): boolean[] => {
      const experiment = new Experiment(spec, 0, () => 0)
      return Array.from({ length: 10_000 }, () => experiment.draw(FACTS) !== undefined)
    }
    const decisions = decide()
    const hits = decisions.filter(Boolean).length
    // Binomial(10,000, 0.3): mean 3,000, σ ≈ 45.8; within 4σ.
    expect(Math.abs(hits - 3000)).toBeLessThan(4 * Math.sqrt(10_000 * 0.3 * 0.7))
    expect(decide()).toEqual(decisions)
  })

  it('runs only inside its time box', () => {
    const experiment = new Experiment({ name: 'boxed', faults: [{ type: 'abort', rate: 1 }], startAt: 1000, durationMs: 500 }, 0, () => 1)
    expect([999, 1000, 1499, 1500].map((now) => experiment.isRunning(now))).toEqual([false, true, true, false])
  })

  it('applies a fault only to the requests it matches', () => {
    const experiment = new Experiment({ name: 'posts', faults: [{ type: 'error', rate: 1, status: 500, match: { methods: ['post'], path: '/orders*', header: { name: 'X-Canary', value: 'yes' } } }] }, 0, () => 1)
    expect(experiment.draw(FACTS)).toBeUndefined()
    expect(experiment.draw({ ...FACTS, method: 'POST' })).toBeUndefined()
    expect(experiment.draw({ ...FACTS, method: 'POST', headers: { 'x-canary': 'yes' } })?.type).toBe('error')
  })
})

describe('ChaosController', () => {
  const local = [{ fault: resolveFault({ type: 'latency', rate: 1, ms: 10 }, 'f'), source: 'route' as const }]

  it('injects nothing while disabled', () => {
    const controller = new ChaosController(10, seededRandom(1))
    expect(controller.choose(local, FACTS, 0)).toBeUndefined()
    controller.enable()
    expect(controller.choose(local, FACTS, 0)?.source).toBe('route')
  })

  it('caps the faults in progress, and frees a place when one ends', () => {
    const controller = new ChaosController(2, seededRandom(1))
    controller.enable()
    const first = controller.choose(local, FACTS, 0)
    expect(controller.choose(local, FACTS, 0)).toBeDefined()
    expect(controller.choose(local, FACTS, 0)).toBeUndefined()
    first?.end()
    first?.end()
    expect(controller.choose(local, FACTS, 0)).toBeDefined()
    expect(controller.stats(0).active).toBe(2)
  })

  it('keeps an experiment\'s decisions independent of the plugin seed, route faults and later experiments', () => {
    const experimentA = (): Experiment => new Experiment({ name: 'a', seed: 7, faults: [{ type: 'error', rate: 0.4, status: 503 }] }, 0, () => 0)
    const quietRoute = [{ fault: resolveFault({ type: 'error', rate: 0.3, status: 500, match: { path: '/elsewhere' } }, 'f'), source: 'route' as const }]
    const pattern = (controller: ChaosController): string => Array.from({ length: 60 }, () => {
      const injection = controller.choose(quietRoute, FACTS, 0)
      injection?.end()
      return injection?.source === 'a' ? 'a' : '.'
    }).join('')
    const alone = new ChaosController(10, seededRandom(1))
    alone.addExperiment(experimentA())
    alone.enable()
    const crowded = new ChaosController(10, seededRandom(2))
    crowded.addExperiment(experimentA())
    crowded.addExperiment(new Experiment({ name: 'b', seed: 3, faults: [{ type: 'abort', rate: 0.5 }] }, 0, () => 0))
    crowded.enable()
    expect(pattern(crowded)).toBe(pattern(alone))
  })

  it('kill ends every tracked fault at once and stops new ones', () => {
    const controller = new ChaosController(10, seededRandom(1))
    controller.enable()
    const ended: string[] = []
    controller.track(() => ended.push('a'))
    controller.track(() => ended.push('b'))
    controller.kill('game day over')
    expect(ended).toEqual(['a', 'b'])
    expect(controller.choose(local, FACTS, 0)).toBeUndefined()
    expect(controller.stats(0)).toMatchObject({ enabled: false, stoppedBecause: 'game day over' })
  })
})

describe('requested faults', () => {
  const SECRET = 'a-secret-of-enough-length'
  it('parses a requested fault and caps its rate', () => {
    expect(parseRequestedFault('type=latency;ms=200;rate=1', 0.5, 0, undefined)).toMatchObject({ type: 'latency', rate: 0.5 })
    expect(parseRequestedFault('type=error;status=503', 1, 0, undefined)).toMatchObject({ type: 'error', status: 503, rate: 1 })
  })

  it('ignores malformed, invalid or expired requests instead of failing', () => {
    expect(parseRequestedFault('latency please', 1, 0, undefined)).toBeUndefined()
    expect(parseRequestedFault('type=error;status=200', 1, 0, undefined)).toBeUndefined()
    expect(parseRequestedFault('type=abort;expires=1000', 1, 2000, undefined)).toBeUndefined()
    expect(parseRequestedFault('type=abort', 1, 2000, 5000)).toBeUndefined()
    expect(parseRequestedFault('type=abort;expires=3000', 1, 2000, 5000)).toMatchObject({ type: 'abort' })
  })

  it('ignores a request that must expire by a time and expires later; others may expire when they like', () => {
    expect(parseRequestedFault('type=abort;expires=5000', 1, 2000, 5000)).toMatchObject({ type: 'abort' })
    expect(parseRequestedFault('type=abort;expires=5001', 1, 2000, 5000)).toBeUndefined()
    expect(parseRequestedFault('type=abort;expires=1e20', 1, 2000, 5000)).toBeUndefined()
    expect(parseRequestedFault('type=abort;expires=Infinity', 1, 2000, 5000)).toBeUndefined()
    expect(parseRequestedFault('type=abort;expires=1e20', 1, 2000, undefined)).toMatchObject({ type: 'abort' })
  })

  it('verifies an HMAC signature in constant time, refusing a wrong or malformed one', () => {
    const value = 'type=abort;expires=3000'
    expect(verifyFaultSignature(value, signFault(value, SECRET), SECRET)).toBe(true)
    expect(verifyFaultSignature(value, signFault(value, 'another-secret-of-length'), SECRET)).toBe(false)
    expect(verifyFaultSignature('type=abort;expires=9999', signFault(value, SECRET), SECRET)).toBe(false)
    expect(verifyFaultSignature(value, 'not hex', SECRET)).toBe(false)
  })
})
