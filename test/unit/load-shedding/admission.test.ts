import { afterEach, describe, expect, it } from 'vitest'
import { AdmissionController, FixedLimit } from '../../../src/load-shedding/index.js'
import type { AdmissionSettings, Priority, ShedReason, Waiter } from '../../../src/load-shedding/index.js'
import { ManualClock } from '../../helpers/manual-clock.js'
import { deferred } from '../../helpers/deferred.js'
import { waitFor } from '../../helpers/wait-for.js'

const controllers: AdmissionController[] = []
afterEach(() => {
  for (const controller of controllers.splice(0)) controller.close('queue-timeout')
})

function controllerWith (overrides: Partial<AdmissionSettings> = {}): AdmissionController {
  const controller = new AdmissionController({
    limit: new FixedLimit(2),
    maxQueue: 4,
    maxQueueWaitMs: 1000,
    criticalReserve: 0,
    reasons: { full: 'concurrency', timeout: 'queue-timeout' },
    clock: new ManualClock(),
    ...overrides,
  })
  controllers.push(controller)
  return controller
}

interface Recorded { events: string[], waiter: (name: string, priority?: Priority) => Waiter }

function recorder (): Recorded {
  const events: string[] = []
  return {
    events,
    waiter: (name, priority = 'normal') => ({
      priority,
      expiresAt: 0,
      expiryReason: 'queue-timeout',
      grant: () => { events.push(`${name} granted`) },
      shed: (reason: ShedReason) => { events.push(`${name} shed: ${reason}`) },
    }),
  }
}

describe('AdmissionController', () => {
  it('admits up to the limit, then refuses when nobody may wait', () => {
    const controller = controllerWith({ maxQueue: 0 })
    const { waiter } = recorder()
    expect(controller.tryAcquire('normal')).toBe(true)
    expect(controller.tryAcquire('normal')).toBe(true)
    expect(controller.tryAcquire('normal')).toBe(false)
    expect(controller.enqueue(waiter('third'), undefined, 0)).toEqual({ kind: 'shed', reason: 'concurrency' })
    expect(controller.inFlight).toBe(2)
  })

  it('keeps a share of the limit for critical requests', () => {
    const controller = controllerWith({ limit: new FixedLimit(10), criticalReserve: 0.2 })
    for (let i = 0; i < 8; i++) expect(controller.tryAcquire('high')).toBe(true)
    expect(controller.tryAcquire('high')).toBe(false)
    expect(controller.tryAcquire('critical')).toBe(true)
    expect(controller.tryAcquire('critical')).toBe(true)
    expect(controller.tryAcquire('critical')).toBe(false)
  })

  it('hands freed slots to waiters highest class first, first come first served within a class', () => {
    const controller = controllerWith({ limit: new FixedLimit(1) })
    const { events, waiter } = recorder()
    controller.tryAcquire('normal')
    for (const [name, priority] of [['low-1', 'low'], ['normal-1', 'normal'], ['critical-1', 'critical'], ['normal-2', 'normal']] as const) {
      expect(controller.enqueue(waiter(name, priority), undefined, 0)).toEqual({ kind: 'queued' })
    }
    for (let i = 0; i < 4; i++) controller.release(0, 1)
    expect(events).toEqual(['critical-1 granted', 'normal-1 granted', 'normal-2 granted', 'low-1 granted'])
  })

  it('does not let a newcomer take a slot ahead of a waiter of its class', () => {
    const controller = controllerWith({ limit: new FixedLimit(1) })
    const { waiter } = recorder()
    controller.tryAcquire('normal')
    controller.enqueue(waiter('waiting'), undefined, 0)
    controller.release(0, 1)
    expect(controller.inFlight).toBe(1)
    expect(controller.tryAcquire('normal')).toBe(false)
  })

  it('refuses a newcomer when the line is full of its class or higher', () => {
    const controller = controllerWith({ limit: new FixedLimit(1), maxQueue: 2 })
    const { events, waiter } = recorder()
    controller.tryAcquire('normal')
    controller.enqueue(waiter('a'), undefined, 0)
    controller.enqueue(waiter('b'), undefined, 0)
    expect(controller.enqueue(waiter('c'), undefined, 0)).toEqual({ kind: 'shed', reason: 'concurrency' })
    expect(controller.enqueue(waiter('low', 'low'), undefined, 0)).toEqual({ kind: 'shed', reason: 'concurrency' })
    expect(controller.queued).toBe(2)
    expect(events).toEqual([])
  })

  it('makes room in a full line by refusing the newest waiter of the lowest class', () => {
    const controller = controllerWith({ limit: new FixedLimit(1), maxQueue: 3 })
    const { events, waiter } = recorder()
    controller.tryAcquire('normal')
    controller.enqueue(waiter('low-old', 'low'), undefined, 0)
    controller.enqueue(waiter('low-new', 'low'), undefined, 0)
    controller.enqueue(waiter('normal'), undefined, 0)
    expect(controller.enqueue(waiter('high', 'high'), undefined, 0)).toEqual({ kind: 'queued' })
    expect(events).toEqual(['low-new shed: concurrency'])
    expect(controller.queued).toBe(3)
  })

  it('refuses a waiter whose wait ran out, with the timeout reason', async () => {
    const controller = controllerWith({ limit: new FixedLimit(1), maxQueueWaitMs: 5, clock: { now: () => performance.now() } })
    const shed = deferred<ShedReason>()
    controller.tryAcquire('normal')
    controller.enqueue({ priority: 'normal', expiresAt: 0, expiryReason: 'queue-timeout', grant: () => shed.reject(new Error('granted')), shed: shed.resolve }, undefined, performance.now())
    expect(await shed.promise).toBe('queue-timeout')
    expect(controller.queued).toBe(0)
  })

  it('refuses at once a request whose remaining budget is below the usual latency', () => {
    const clock = new ManualClock()
    const controller = controllerWith({ limit: new FixedLimit(1), clock })
    const { waiter } = recorder()
    controller.tryAcquire('normal')
    clock.advance(40)
    controller.release(clock.now() - 40, 1)
    expect(controller.meanLatencyMs).toBe(40)
    controller.tryAcquire('normal')
    expect(controller.enqueue(waiter('short'), 30, clock.now())).toEqual({ kind: 'shed', reason: 'deadline' })
    expect(controller.enqueue(waiter('long'), 500, clock.now())).toEqual({ kind: 'queued' })
  })

  it('queues a request whose deadline covers the expected wait in a quiet period', () => {
    const clock = new ManualClock()
    const controller = controllerWith({ limit: new FixedLimit(1), clock })
    const { waiter } = recorder()
    // One request a second, each holding the slot for 150 ms: completions are rare, service is quick.
    for (let i = 0; i < 10; i++) {
      controller.tryAcquire('normal')
      const startedAt = clock.now()
      clock.advance(150)
      controller.release(startedAt, 1)
      clock.advance(850)
    }
    controller.tryAcquire('normal')
    // About 150 ms of wait and 150 ms of work fit in 1 s.
    expect(controller.enqueue(waiter('next'), 1000, clock.now())).toEqual({ kind: 'queued' })
  })

  it('lets a request wait only as long as its deadline allows, and names the deadline when that runs out', async () => {
    const controller = controllerWith({ limit: new FixedLimit(1), maxQueueWaitMs: 10_000, clock: { now: () => performance.now() } })
    const shed = deferred<ShedReason>()
    controller.tryAcquire('normal')
    controller.enqueue({ priority: 'normal', expiresAt: 0, expiryReason: 'queue-timeout', grant: () => shed.reject(new Error('granted')), shed: shed.resolve }, 5, performance.now())
    expect(await shed.promise).toBe('deadline')
  })

  it('lets newcomers wait a tenth of maxQueueWaitMs once the line has not emptied for that long, and the full wait again once it has', () => {
    const clock = new ManualClock()
    const controller = controllerWith({ limit: new FixedLimit(1), maxQueue: 10, maxQueueWaitMs: 100, clock })
    const { waiter } = recorder()
    const start = clock.now()
    controller.tryAcquire('normal')
    const first = waiter('first')
    controller.enqueue(first, undefined, clock.now())
    expect(first.expiresAt).toBe(start + 100)
    clock.advance(60)
    const burst = waiter('burst')
    controller.enqueue(burst, undefined, clock.now())
    expect(burst.expiresAt).toBe(start + 160)
    clock.advance(40)
    const standing = waiter('standing')
    controller.enqueue(standing, undefined, clock.now())
    expect(standing).toMatchObject({ expiresAt: start + 110, expiryReason: 'queue-timeout' })
    // The line empties: the next wait is a burst's again.
    for (const gone of [first, burst, standing]) controller.cancel(gone)
    const later = waiter('later')
    controller.enqueue(later, undefined, clock.now())
    expect(later.expiresAt).toBe(start + 200)
  })

  it('keeps the full wait in a standing line for a newcomer with nobody of its class or higher ahead', () => {
    const clock = new ManualClock()
    const controller = controllerWith({ limit: new FixedLimit(1), maxQueue: 10, maxQueueWaitMs: 100, clock })
    const { waiter } = recorder()
    controller.tryAcquire('normal')
    controller.enqueue(waiter('normal'), undefined, clock.now())
    clock.advance(100)
    const critical = waiter('critical', 'critical')
    controller.enqueue(critical, undefined, clock.now())
    expect(critical.expiresAt).toBe(clock.now() + 100)
    const second = waiter('second critical', 'critical')
    controller.enqueue(second, undefined, clock.now())
    expect(second.expiresAt).toBe(clock.now() + 10)
  })

  it('treats a line its waiters just left by running out of time as standing, for their class and lower, until maxQueueWaitMs has passed', async () => {
    const clock = new ManualClock()
    const controller = controllerWith({ limit: new FixedLimit(1), maxQueue: 10, maxQueueWaitMs: 100, clock })
    const { events, waiter } = recorder()
    controller.tryAcquire('normal')
    controller.enqueue(waiter('first'), undefined, clock.now())
    clock.advance(100)
    await waitFor(() => events.length > 0)
    expect(events).toEqual(['first shed: queue-timeout'])
    expect(controller.queued).toBe(0)
    // The line is empty, but it emptied by refusing: a burst it absorbed would have been served.
    const next = waiter('next')
    controller.enqueue(next, undefined, clock.now())
    expect(next).toMatchObject({ expiresAt: clock.now() + 10, expiryReason: 'queue-timeout' })
    controller.cancel(next)
    const critical = waiter('critical', 'critical')
    controller.enqueue(critical, undefined, clock.now())
    expect(critical.expiresAt).toBe(clock.now() + 100)
    controller.cancel(critical)
    clock.advance(100)
    const later = waiter('later')
    controller.enqueue(later, undefined, clock.now())
    expect(later.expiresAt).toBe(clock.now() + 100)
  })

  it('does not count a waiter whose deadline ran out in line as a sign of a standing line', async () => {
    const clock = new ManualClock()
    const controller = controllerWith({ limit: new FixedLimit(1), maxQueue: 10, maxQueueWaitMs: 100, clock })
    const { events, waiter } = recorder()
    controller.tryAcquire('normal')
    controller.enqueue(waiter('hurried'), 20, clock.now())
    clock.advance(20)
    await waitFor(() => events.length > 0)
    expect(events).toEqual(['hurried shed: deadline'])
    const next = waiter('next')
    controller.enqueue(next, undefined, clock.now())
    expect(next.expiresAt).toBe(clock.now() + 100)
  })

  it('takes a cancelled waiter out of line', () => {
    const controller = controllerWith({ limit: new FixedLimit(1) })
    const { events, waiter } = recorder()
    controller.tryAcquire('normal')
    const gone = waiter('gone')
    controller.enqueue(gone, undefined, 0)
    controller.cancel(gone)
    controller.release(0, 1)
    expect(events).toEqual([])
    expect(controller.inFlight).toBe(0)
  })

  it('frees an abandoned slot for the next waiter without counting its latency', () => {
    const controller = controllerWith({ limit: new FixedLimit(1) })
    const { events, waiter } = recorder()
    controller.tryAcquire('normal')
    controller.enqueue(waiter('next'), undefined, 0)
    controller.abandon()
    expect(events).toEqual(['next granted'])
    expect(controller.meanLatencyMs).toBe(0)
  })

  it('has no expected wait before a request has finished', () => {
    const controller = controllerWith({ limit: new FixedLimit(1) })
    controller.tryAcquire('normal')
    expect(controller.expectedWaitMs('normal')).toBeUndefined()
  })

  it('expects a short wait in a quiet period: one request running, finishing as quickly as the earlier ones', () => {
    const clock = new ManualClock()
    const controller = controllerWith({ limit: new FixedLimit(1), clock })
    // One request every 2 s, each holding the slot for 150 ms: completions are rare, service is quick.
    for (let i = 0; i < 5; i++) {
      controller.tryAcquire('normal')
      const startedAt = clock.now()
      clock.advance(150)
      controller.release(startedAt, 1)
      clock.advance(1850)
    }
    controller.tryAcquire('normal')
    expect(controller.expectedWaitMs('normal')).toBe(150)
  })

  it('expects the waiters ahead of a class, per usable slot, times the mean service time when busy', () => {
    const clock = new ManualClock()
    const controller = controllerWith({ limit: new FixedLimit(10), criticalReserve: 0.2, maxQueue: 10, clock })
    const { waiter } = recorder()
    controller.tryAcquire('critical')
    clock.advance(400)
    controller.release(clock.now() - 400, 1)
    // 8 usable slots for normal, all taken; 2 critical and 4 normal waiting.
    for (let i = 0; i < 8; i++) controller.tryAcquire('normal')
    for (let i = 0; i < 4; i++) controller.enqueue(waiter(`normal ${i}`), undefined, clock.now())
    for (let i = 0; i < 2; i++) controller.enqueue(waiter(`critical ${i}`, 'critical'), undefined, clock.now())
    // normal: 8 running + 6 ahead − 8 slots + 1 = 7 turns of 400 / 8 ms.
    expect(controller.expectedWaitMs('normal')).toBe(350)
    // low: the same, since every normal and critical waiter is ahead of it.
    expect(controller.expectedWaitMs('low')).toBe(350)
    // critical: 10 slots, 8 running and 2 critical ahead: 1 turn of 400 / 10 ms.
    expect(controller.expectedWaitMs('critical')).toBe(40)
  })
})
