import type { FastifyContextConfig, FastifySchema } from 'fastify'

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

/**
 * Route options of the library's operator routes (metrics, the SLO status
 * route, the status page): {@link libraryRouteConfig}'s config, and a
 * schema that only says `hide`, which @fastify/swagger reads to leave a
 * route out of the API document. Operator routes, the status page's
 * kill switch among them, are not the application's API. The schema has
 * no part to validate, so Fastify compiles nothing for it.
 */
export function operatorRouteOptions (config: FastifyContextConfig = libraryRouteConfig()): { config: FastifyContextConfig, schema: FastifySchema } {
  // `hide` is @fastify/swagger's key, absent from Fastify's own schema type.
  return { config, schema: { hide: true } as FastifySchema }
}
