/**
 * Where the instance stands in its life, one state moved in one place
 * (the health plugin's shutdown sequence):
 *
 * - `serving`: takes traffic; readiness passes if nothing else fails.
 * - `draining`: shutdown began; readiness fails, requests are still served
 *   so that load balancers notice before anything is refused.
 * - `closing`: the grace period is over; new requests get a 503
 *   `shutting-down` problem with `Connection: close`, requests in flight
 *   finish.
 * - `closed`: every connection is gone.
 */
export type LifecyclePhase = 'serving' | 'draining' | 'closing' | 'closed'

export const LIFECYCLE_PHASES: readonly LifecyclePhase[] = ['serving', 'draining', 'closing', 'closed']
