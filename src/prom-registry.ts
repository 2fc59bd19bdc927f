import type { Registry } from 'prom-client'

/**
 * Whether a value is a prom-client Registry, by shape rather than by
 * `instanceof`: an application with its own copy of prom-client passes a
 * Registry of that copy, which is not an instance of the class this package
 * loads (the same reason errors are checked by code, not by class).
 */
export function isPromRegistry (value: unknown): value is Registry {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Record<string, unknown>
  return typeof candidate.registerMetric === 'function' &&
    typeof candidate.getSingleMetric === 'function' &&
    typeof candidate.metrics === 'function'
}
