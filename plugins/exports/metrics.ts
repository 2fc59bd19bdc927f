// fastify-resilience/metrics: Prometheus metrics of every capability, rules
// and a dashboard. Loads prom-client.
export { metrics } from '../metrics.js'
export type { ResilienceMetrics, MetricsOptions, DashboardOptions, GrafanaDashboard } from '../metrics.js'
export { CHANNEL_NAMES, grafanaDashboard, resiliencePrometheusRules, MetricsHub } from '../../src/metrics/index.js'
export type { ShedMessage, DeadlineExpiredMessage, ReplayedMessage, FaultInjectedMessage, BreakerStateMessage, ScrapedMetric, EventHistogram, SetValue } from '../../src/metrics/index.js'
