import type { FastifyContextConfig } from 'fastify'

/**
 * Route config of the library's own routes (metrics, health, status):
 * never shed, never faulted, never counted in an SLO, never made
 * idempotent, so that they keep answering while the service is in trouble
 * and do not blur what they report.
 */
export function libraryRouteConfig (): FastifyContextConfig {
  return { slo: false, shedding: false, chaos: false, idempotency: false }
}

/** Whether a route's config is {@link libraryRouteConfig}'s: such routes are never refused. */
export function isLibraryRoute (config: FastifyContextConfig | undefined): boolean {
  return config?.slo === false && config.shedding === false && config.chaos === false && config.idempotency === false
}
