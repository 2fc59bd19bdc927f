import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import type { DashboardOptions, GrafanaDashboard } from '../src/metrics/dashboard.js'
import type { MetricsHub } from '../src/metrics/hub.js'

// The capabilities find the metrics plugin through this module, which
// imports only types: a capability imported alone does not load prom-client.

/** `app.resilienceMetrics`: the shared registry, and what is generated from the metrics registered on it. */
export interface ResilienceMetrics {
  /** The prom-client registry every capability registers on. */
  readonly registry: Registry
  /** The prefix of every metric name. */
  readonly prefix: string
  /** Where capabilities register their collectors. */
  readonly hub: MetricsHub
  /** A Grafana dashboard (importable JSON) with a row per capability that registered metrics, SLOs included; refuses options Grafana or Prometheus could not use. */
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
