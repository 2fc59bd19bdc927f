import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { MetricsHub, grafanaDashboard, resolveMetricsOptions, resiliencePrometheusRules } from '../src/metrics/index.js'
import type { DashboardOptions, GrafanaDashboard, MetricsOptions } from '../src/metrics/index.js'
import { operatorRouteOptions } from './library-route.js'
import type { ResilienceMetrics } from './metrics-hub.js'
import { registerOnce } from './registered-once.js'

/**
 * One prom-client registry for every capability registered after it, and
 * opt-in, the scrape route. The capabilities find it by its decorator.
 */
const metricsPlugin: FastifyPluginAsync<MetricsOptions> = async function metrics (app, options) {
  registerOnce(app, 'fastify-resilience/metrics')
  const settings = resolveMetricsOptions(options)
  const hub = new MetricsHub(settings.registry, settings.prefix)
  // The next app built on the same registry (a test, a hot reload) registers the same names.
  app.addHook('onClose', async () => { hub.close() })
  app.decorate('resilienceMetrics', {
    registry: settings.registry,
    prefix: settings.prefix,
    hub,
    grafanaDashboard: (dashboardOptions?: DashboardOptions) => grafanaDashboard(hub.capabilities(), settings.prefix, dashboardOptions),
    prometheusRules: () => resiliencePrometheusRules(hub.capabilities(), settings.prefix),
  } satisfies ResilienceMetrics)
  if (settings.path !== undefined) {
    const registry = settings.registry
    app.get(settings.path, operatorRouteOptions(), async (_request, reply) => {
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

export type { MetricsOptions, DashboardOptions, GrafanaDashboard, ResilienceMetrics }
