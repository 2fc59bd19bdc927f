import { Registry } from 'prom-client'
import { isPromRegistry } from '../prom-registry.js'
import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, optionalMetricPrefix } from '../options.js'

/** The umbrella's `metrics` option, shared by every capability. */
export interface MetricsOptions {
  /** The prom-client registry every capability registers on; pass the application's own to get one scrape. @default a new Registry */
  registry?: Registry
  /** Put before every metric name, e.g. `'shop_'`. @default '' */
  prefix?: string
  /** Serves the registry's exposition at this path (e.g. `'/metrics'`); never shed, faulted or counted in SLOs. @default none */
  path?: string
}

export interface ResolvedMetricsOptions {
  registry: Registry
  prefix: string
  path: string | undefined
}

// Tied to the interface: a key listed here must exist there, and a type test
// checks that every key there is listed (test/types/option-keys.test-d.ts).
export const METRICS_KEYS = ['registry', 'prefix', 'path'] as const satisfies ReadonlyArray<keyof MetricsOptions>

export function resolveMetricsOptions (options: unknown, where = 'metrics'): ResolvedMetricsOptions {
  assertOptionsObject(options, where)
  assertKnownKeys(options, METRICS_KEYS, where)
  const prefix = optionalMetricPrefix(options.prefix, `${where}.prefix`)
  const registry = options.registry ?? new Registry()
  if (!isPromRegistry(registry)) throw new FRS_ERR_OPTION_INVALID(`${where}.registry`, 'a prom-client Registry', describeValue(registry))
  const path = options.path
  if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/'))) {
    throw new FRS_ERR_OPTION_INVALID(`${where}.path`, 'a path starting with /', describeValue(path))
  }
  return { registry, prefix, path }
}
