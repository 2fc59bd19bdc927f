import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { Registry } from 'prom-client'
import { MetricsHub, grafanaDashboard, resolveMetricsOptions, resiliencePrometheusRules } from '../src/metrics/index.js'
import type { DashboardOptions, GrafanaDashboard, MetricsOptions } from '../src/metrics/index.js'
import { libraryRouteConfig } from './library-route.js'

/** `app.resilienceMetrics`: the shared registry, and what is generated from the metrics registered on it. */
export interface ResilienceMetrics {
  /** The prom-client registry every capability registers on. */
  readonly registry: Registry
  /** The prefix of every metric name. */
  readonly prefix: string
  /** Where capabilities register their collectors. */
  readonly hub: MetricsHub
  /** A Grafana dashboard (importable JSON) with a row per capability that registered metrics, SLOs included. */
  grafanaDashboard: (options?: DashboardOptions) => GrafanaDashboard
  /** Prometheus recording and alerting rules for shedding (and each capability that has some), as YAML. */
  prometheusRules: () => string
}

declare module 'fastify' {
  interface FastifyInstance {
    readonly resilienceMetrics: ResilienceMetrics
  }
}

/** The hub of the metrics plugin registered before a capability, if any. */
export function metricsHubOf (app: FastifyInstance): MetricsHub | undefined {
  return app.hasDecorator('resilienceMetrics') ? app.resilienceMetrics.hub : undefined
}

/**
 * One prom-client registry for every capability registered after it, and
 * opt-in, the scrape route. The capabilities find it by its decorator.
 */
const metricsPlugin: FastifyPluginAsync<MetricsOptions> = async function metrics (app, options) {
  const settings = resolveMetricsOptions(options)
  const hub = new MetricsHub(settings.registry, settings.prefix)
  app.decorate('resilienceMetrics', {
    registry: settings.registry,
    prefix: settings.prefix,
    hub,
    grafanaDashboard: (dashboardOptions?: DashboardOptions) => grafanaDashboard(hub.capabilities(), settings.prefix, dashboardOptions),
    prometheusRules: () => resiliencePrometheusRules(hub.capabilities(), settings.prefix),
  } satisfies ResilienceMetrics)
  if (settings.path !== undefined) {
    const registry = settings.registry
    app.get(settings.path, { config: libraryRouteConfig() }, async (_request, reply) => {
      const exposition = await registry.metrics()
      return await reply.type(registry.contentType).send(exposition)
    })
  }
}

/** The shared metrics registry (and scrape route) as a Fastify plugin; register it before the capabilities. */
export const metrics = fp(metricsPlugin, {
  fastify: '5.x',
  name: 'fastify-resilience/metrics',
})

export type { MetricsOptions, DashboardOptions, GrafanaDashboard }
