import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { listen } from '../helpers/listen.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { expectMetricsClean, promtool } from '../helpers/promtool.js'

/*
 * The generated rules checked by the real promtool, against the series a
 * real scrape of the app shows, with the expectations of the Site
 * Reliability Workbook (chapter 5, "Alerting on SLOs") for a 99.9 % SLO.
 */

const CHECKOUT = { name: 'checkout', availability: 0.999, latency: { thresholdMs: 300, target: 0.99 } }
/** Minutes of healthy traffic before each scenario's trouble starts: longer than the 6 h window. */
const T0 = 360
/** Minutes each scenario lasts after T0. */
const AFTER = 360
/** Requests a minute. */
const TRAFFIC = 1000

let app: FastifyInstance
let dir: string
let scrape: string
let rulesPath: string

beforeAll(async () => {
  const clock = new ManualClock()
  app = Fastify()
  // Without load shedding: on a busy machine, a sample of the event-loop
  // delay over its threshold would refuse the requests whose counts the
  // scenarios read, or the scrape itself.
  await app.register(resilience, { loadShedding: false, errorBudget: { clock, objectives: [CHECKOUT] } })
  app.get('/checkout', { config: { slo: 'checkout' } }, async (request) => {
    const { fail, slow } = request.query as { fail?: string, slow?: string }
    if (fail !== undefined) throw new Error('payment provider down')
    if (slow !== undefined) clock.advance(500)
    return { ok: true }
  })
  app.get('/metrics', { config: { slo: false } }, async (_request, reply) => {
    const registry = app.errorBudget.registry
    if (registry === undefined) throw new Error('metrics are off')
    return await reply.type(registry.contentType).send(await registry.metrics())
  })
  const port = await listen(app)
  for (const query of ['', '', '?fail=1', '?slow=1']) await (await fetch(`http://127.0.0.1:${port}/checkout${query}`)).arrayBuffer()
  scrape = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  dir = mkdtempSync(join(tmpdir(), 'frs-promtool-'))
  rulesPath = join(dir, 'rules.yml')
  writeFileSync(rulesPath, app.errorBudget.prometheusRules())
})

afterAll(async () => {
  await app?.close()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

/** The `slo_events_total` series of the scrape, as promtool's input series names them. */
function scrapedEventSeries (): string[] {
  return scrape.split('\n').filter((line) => line.startsWith('slo_events_total{')).map((line) => line.slice(0, line.lastIndexOf(' ')))
}

/** The scraped series of the checkout route for one indicator and result; fails if the app does not expose it. */
function seriesOf (sli: 'availability' | 'latency', result: 'good' | 'bad'): string {
  const found = scrapedEventSeries().find((series) => series.includes('route="GET /checkout"') && series.includes(`sli="${sli}"`) && series.includes(`result="${result}"`))
  if (found === undefined) throw new Error(`the scrape has no ${sli} ${result} series for GET /checkout:\n${scrape}`)
  return found
}

/** A counter's samples, one a minute from 0: `perMinute` before T0, `after` from then on. */
function counter (perMinute: number, after: number): string {
  const values: number[] = [0]
  for (let minute = 1; minute <= T0 + AFTER; minute++) values.push((values[minute - 1] ?? 0) + (minute <= T0 ? perMinute : after))
  return values.join(' ')
}

interface Traffic {
  availability: { good: [number, number], bad: [number, number] }
  latency: { good: [number, number], bad: [number, number] }
}

/** Every scraped event series: the checkout route's carry `traffic`, the others stay at 0. */
function inputSeries (traffic: Traffic): Array<{ series: string, values: string }> {
  const busy = new Map<string, string>()
  for (const sli of ['availability', 'latency'] as const) {
    for (const result of ['good', 'bad'] as const) busy.set(seriesOf(sli, result), counter(...traffic[sli][result]))
  }
  return scrapedEventSeries().map((series) => ({ series, values: busy.get(series) ?? counter(0, 0) }))
}

const HEALTHY_LATENCY = { good: [TRAFFIC, TRAFFIC], bad: [0, 0] } as Traffic['latency']

/** The availability indicator fails `errorsPerMinute` of TRAFFIC from T0 on. */
function errorsFromT0 (errorsPerMinute: number): Traffic {
  return { availability: { good: [TRAFFIC, TRAFFIC - errorsPerMinute], bad: [0, errorsPerMinute] }, latency: HEALTHY_LATENCY }
}

const PAGE_SUMMARY = (sli: string): string => `SLO checkout (${sli}) burns its error budget too fast: 14.4× over 1h and 5m, or 6× over 6h and 30m`
const page = (sli: 'availability' | 'latency'): { exp_labels: Record<string, string>, exp_annotations: Record<string, string> } => ({
  exp_labels: { severity: 'page', slo: 'checkout', sli },
  exp_annotations: { summary: PAGE_SUMMARY(sli) },
})
const AVAILABILITY_PAGE = 'CheckoutAvailabilityBudgetBurnPage'
const LATENCY_PAGE = 'CheckoutLatencyBudgetBurnPage'
const at = (minutes: number): string => `${minutes}m`

async function runUnitTests (name: string, tests: unknown[]): Promise<void> {
  const path = join(dir, `${name}.test.yml`)
  // JSON is YAML; promtool reads it as such.
  writeFileSync(path, JSON.stringify({ rule_files: [rulesPath], evaluation_interval: '1m', tests }, null, 2))
  const result = await promtool(['test', 'rules', path])
  expect(result.output).toContain('SUCCESS')
  expect(result.code).toBe(0)
}

describe('generated Prometheus rules, checked by promtool', () => {
  it('scrapes the series the rules read (the test depends on it)', () => {
    expect(seriesOf('availability', 'bad')).toBe('slo_events_total{slo="checkout",sli="availability",route="GET /checkout",result="bad"}')
  })

  it('name the alerts the unit tests below expect, so that an empty expectation is not vacuous', () => {
    const rules = app.errorBudget.prometheusRules()
    for (const alert of [AVAILABILITY_PAGE, LATENCY_PAGE]) expect(rules).toContain(`- alert: "${alert}"`)
  })

  it('pass `promtool check rules` without duplicate rules', async () => {
    const result = await promtool(['check', 'rules', rulesPath])
    expect(result.output).not.toMatch(/duplicate/i)
    expect(result.output).toContain('SUCCESS')
    expect(result.code).toBe(0)
  })

  it('page within minutes of a total outage', async () => {
    await runUnitTests('outage', [{
      interval: '1m',
      input_series: inputSeries({ availability: { good: [TRAFFIC, 0], bad: [0, TRAFFIC] }, latency: { good: [TRAFFIC, 0], bad: [0, 0] } }),
      alert_rule_test: [
        { eval_time: at(T0 - 1), alertname: AVAILABILITY_PAGE, exp_alerts: [] },
        { eval_time: at(T0 + 4), alertname: AVAILABILITY_PAGE, exp_alerts: [page('availability')] },
      ],
    }])
  })

  it('page nobody while the budget burns at exactly 1×', async () => {
    await runUnitTests('one-x', [{
      interval: '1m',
      input_series: inputSeries({ availability: { good: [TRAFFIC - 1, TRAFFIC - 1], bad: [1, 1] }, latency: HEALTHY_LATENCY }),
      alert_rule_test: [T0, T0 + 60, T0 + AFTER].map((minutes) => ({ eval_time: at(minutes), alertname: AVAILABILITY_PAGE, exp_alerts: [] })),
    }])
  })

  it('page about 43 minutes into 2 % errors on a 99.9 % SLO (20× burn; the 1 h average reaches 14.4× after 60 × 14.4 / 20 = 43.2 min)', async () => {
    await runUnitTests('two-percent', [{
      interval: '1m',
      input_series: inputSeries(errorsFromT0(TRAFFIC * 0.02)),
      alert_rule_test: [
        { eval_time: at(T0 + 40), alertname: AVAILABILITY_PAGE, exp_alerts: [] },
        { eval_time: at(T0 + 47), alertname: AVAILABILITY_PAGE, exp_alerts: [page('availability')] },
      ],
    }])
  })

  it('page an 8× burn through the 6× pair within hours (6 h × 6 / 8 = 4.5 h), never through the 14.4× pair', async () => {
    const fastPair = 'slo:error_ratio:rate1h{slo="checkout",sli="availability"} > (14.4 * 0.001) and slo:error_ratio:rate5m{slo="checkout",sli="availability"} > (14.4 * 0.001)'
    await runUnitTests('eight-x', [{
      interval: '1m',
      input_series: inputSeries(errorsFromT0(TRAFFIC * 0.008)),
      alert_rule_test: [
        { eval_time: at(T0 + 60), alertname: AVAILABILITY_PAGE, exp_alerts: [] },
        { eval_time: at(T0 + 240), alertname: AVAILABILITY_PAGE, exp_alerts: [] },
        { eval_time: at(T0 + 285), alertname: AVAILABILITY_PAGE, exp_alerts: [page('availability')] },
      ],
      promql_expr_test: [T0 + 60, T0 + 285, T0 + AFTER].map((minutes) => ({ expr: fastPair, eval_time: at(minutes), exp_samples: [] })),
    }])
  })

  it('page nobody for the first failures of a quiet service: a pair needs minEvents (20) events in its long window, as the plugin\'s own status does', async () => {
    // No traffic, then one request a minute from T0, every one failed: a 100 % error ratio from the first.
    await runUnitTests('quiet', [{
      interval: '1m',
      input_series: inputSeries({ availability: { good: [0, 0], bad: [0, 1] }, latency: { good: [0, 0], bad: [0, 0] } }),
      alert_rule_test: [
        { eval_time: at(T0 + 1), alertname: AVAILABILITY_PAGE, exp_alerts: [] },
        { eval_time: at(T0 + 10), alertname: AVAILABILITY_PAGE, exp_alerts: [] },
        { eval_time: at(T0 + 25), alertname: AVAILABILITY_PAGE, exp_alerts: [page('availability')] },
      ],
    }])
  })

  it('page when every answer of a latency SLO is slow (a 99 % target: the 1 h average reaches 14.4 × 1 % after 60 × 0.144 = 8.6 min)', async () => {
    await runUnitTests('all-slow', [{
      interval: '1m',
      input_series: inputSeries({ availability: { good: [TRAFFIC, TRAFFIC], bad: [0, 0] }, latency: { good: [TRAFFIC, 0], bad: [0, TRAFFIC] } }),
      alert_rule_test: [
        { eval_time: at(T0 - 1), alertname: LATENCY_PAGE, exp_alerts: [] },
        { eval_time: at(T0 + 5), alertname: LATENCY_PAGE, exp_alerts: [] },
        { eval_time: at(T0 + 12), alertname: LATENCY_PAGE, exp_alerts: [page('latency')] },
        { eval_time: at(T0 + 12), alertname: AVAILABILITY_PAGE, exp_alerts: [] },
      ],
    }])
  })

  it('expose metrics that pass `promtool check metrics`', async () => {
    expect(scrape).toContain('slo_request_duration_seconds_bucket{')
    await expectMetricsClean(scrape)
  })
})
