import { describe, expect, it } from 'vitest'
import { shedDetail } from '../../../src/load-shedding/detail.js'

const facts = { reason: 'bulkhead', priority: 'normal', inFlight: 1, queued: 0, maxQueueWaitMs: 100, route: 'GET /reports' } as const

describe('shedDetail', () => {
  it('speaks of one request, or of several, as the bulkhead allows', () => {
    expect(shedDetail({ ...facts, limit: 1 })).toBe('The route GET /reports runs at most 1 request at once; its queue was full or the wait for a slot ran out.')
    expect(shedDetail({ ...facts, limit: 3 })).toBe('The route GET /reports runs at most 3 requests at once; its queue was full or the wait for a slot ran out.')
  })
})

describe('shedDetail for pressure', () => {
  it('says every class up to the refused one is being refused, not that its class goes first', () => {
    const pressure = { reason: 'pressure', inFlight: 1, queued: 0, maxQueueWaitMs: 100, limit: 10, signal: 'event-loop lag for 110 ms' } as const
    expect(shedDetail({ ...pressure, priority: 'normal' })).toBe('The server is overloaded (event-loop lag for 110 ms); requests of priority normal and lower are refused until it recovers.')
    expect(shedDetail({ ...pressure, priority: 'low' })).toBe('The server is overloaded (event-loop lag for 110 ms); low-priority requests are refused until it recovers.')
  })
})

describe('shedDetail for concurrency', () => {
  it('speaks of one request, or of several, running and waiting', () => {
    const full = { reason: 'concurrency', priority: 'normal', maxQueueWaitMs: 100, limit: 1 } as const
    expect(shedDetail({ ...full, inFlight: 1, queued: 1 })).toBe('The server is running 1 request, as many as its concurrency limit allows for normal requests, and 1 is waiting.')
    expect(shedDetail({ ...full, inFlight: 3, queued: 0 })).toBe('The server is running 3 requests, as many as its concurrency limit allows for normal requests, and 0 are waiting.')
  })
})
