/**
 * Why a request was shed:
 * - `concurrency`: the concurrency limit is reached and the wait queue is full;
 * - `queue-timeout`: it waited for a slot as long as it may;
 * - `deadline`: its deadline cannot be met behind the requests ahead of it;
 * - `pressure`: the process is overloaded and its priority class is shed;
 * - `bulkhead`: its route's own limit and queue are full, or it waited too long there.
 */
export const SHED_REASONS = ['concurrency', 'queue-timeout', 'deadline', 'pressure', 'bulkhead'] as const

/** Which limit shed a request; the `reason` member of an `overloaded` problem. */
export type ShedReason = typeof SHED_REASONS[number]

export function countsByReason (): Record<ShedReason, number> {
  return { concurrency: 0, 'queue-timeout': 0, deadline: 0, pressure: 0, bulkhead: 0 }
}
