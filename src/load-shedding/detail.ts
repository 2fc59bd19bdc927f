import type { Priority } from './priority.js'
import type { ShedReason } from './shed-reason.js'

/** What a shed request's problem detail can tell about the refusal. */
export interface ShedFacts {
  reason: ShedReason
  priority: Priority
  limit: number
  inFlight: number
  queued: number
  maxQueueWaitMs: number
  /** For `bulkhead`: the route. */
  route?: string
  /** For `pressure`: the signal, e.g. "event-loop lag for 130 ms" or "eventLoopDelay at 120". */
  signal?: string
}

/** The problem detail of a shed request: which limit, in the caller's terms. */
export function shedDetail (facts: ShedFacts): string {
  switch (facts.reason) {
    case 'concurrency':
      return `The server is running ${facts.inFlight} ${facts.inFlight === 1 ? 'request' : 'requests'}, as many as its concurrency limit allows for ${facts.priority} requests, and ${facts.queued} ${facts.queued === 1 ? 'is' : 'are'} waiting.`
    case 'queue-timeout':
      return `No slot freed up within ${facts.maxQueueWaitMs} ms, the longest a request may wait.`
    case 'deadline':
      return 'The request\'s deadline cannot be met behind the requests ahead of it.'
    case 'pressure':
      // Pressure sheds the lowest classes first, so every class up to this one is being refused.
      return `The server is overloaded (${facts.signal ?? 'pressure'}); ${facts.priority === 'low' ? 'low-priority requests are' : `requests of priority ${facts.priority} and lower are`} refused until it recovers.`
    case 'bulkhead':
      return `The route ${facts.route ?? ''} runs at most ${facts.limit} ${facts.limit === 1 ? 'request' : 'requests'} at once; its queue was full or the wait for a slot ran out.`
  }
}
