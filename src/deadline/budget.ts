/** The largest delay a Node timer holds; above it, setTimeout fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647

export type Admission =
  | { kind: 'admit', timeoutMs: number, source: 'route' | 'caller' }
  | { kind: 'refuse', callerMs: number, availableMs: number }

export interface BudgetPolicy {
  /** The route's own limit; a caller can shorten it, never lengthen it. */
  routeTimeoutMs: number
  /** Kept back from the caller's budget for the answer's way back. */
  safetyMarginMs: number
  /** Below this, the request is refused rather than started. */
  minimumMs: number
}

/**
 * The effective deadline: the smaller of the route's timeout and the
 * caller's budget minus the safety margin. A caller whose budget leaves
 * less than the minimum is refused before any work.
 */
export function resolveBudget (policy: BudgetPolicy, callerMs: number | undefined): Admission {
  const routeMs = routeBudgetMs(policy)
  if (callerMs === undefined) return { kind: 'admit', timeoutMs: routeMs, source: 'route' }
  const availableMs = callerMs - policy.safetyMarginMs
  if (!(availableMs >= policy.minimumMs) || availableMs <= 0) return { kind: 'refuse', callerMs, availableMs: Math.max(0, availableMs) }
  return availableMs < routeMs
    ? { kind: 'admit', timeoutMs: availableMs, source: 'caller' }
    : { kind: 'admit', timeoutMs: routeMs, source: 'route' }
}

/** The deadline of a request that carries no budget of its own: the route's timeout, up to the longest timer. */
export function routeBudgetMs (policy: BudgetPolicy): number {
  return Math.min(policy.routeTimeoutMs, MAX_TIMER_MS)
}
