import fc from 'fast-check'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { toYaml } from '../../../src/error-budget/yaml.js'
import { grafanaDashboard, resiliencePrometheusRules, resolveMetricsOptions } from '../../../src/metrics/index.js'
import type { GrafanaDashboard } from '../../../src/metrics/index.js'
import { PROPERTY_RUNS } from '../../helpers/arbitraries.js'
import { promtool } from '../../helpers/promtool.js'
import { expectation, thrownBy } from '../../helpers/thrown.js'

/*
 * The dashboard and the rules are written in build steps, where nothing
 * else checks what they are given: their options are checked as the
 * metrics plugin checks the same values, and what they accept is what
 * Prometheus and Grafana load.
 */

const EVERY_ROW = ['loadShedding', 'deadlines', 'idempotency', 'chaos', 'dependencies', 'errorBudget']
const UNITS = ['y', 'w', 'd', 'h', 'm', 's', 'ms']

/**
 * A Prometheus duration: a number (leading zeros allowed) for some units,
 * in order, above 0 in all and within the 292 years Prometheus can hold.
 */
const duration = fc.tuple(...UNITS.map((name) => fc.option(fc.stringMatching(name === 'y' ? /^[0-9]{1,2}$/ : /^[0-9]{1,3}$/), { nil: undefined })))
  .filter((numbers) => numbers.some((digits) => digits !== undefined && Number(digits) > 0))
  .map((numbers) => numbers.map((digits, index) => digits === undefined ? '' : `${digits}${UNITS[index] ?? ''}`).join(''))

const unit = fc.constantFrom(...UNITS)
const count = fc.integer({ min: 1, max: 999 })
/** Ranges PromQL cannot read, one family each. */
const notADuration = fc.oneof(
  count.map(String),
  unit,
  fc.tuple(count, fc.integer({ min: 0, max: UNITS.length - 2 }), count, fc.integer({ min: 1, max: UNITS.length - 1 }))
    .filter(([, first, , second]) => first < second)
    .map(([a, first, b, second]) => `${a}${UNITS[second] ?? ''}${b}${UNITS[first] ?? ''}`),
  fc.tuple(count, unit, count).map(([a, which, b]) => `${a}${which}${b}${which}`),
  fc.tuple(count, count, unit).map(([a, b, which]) => `${a}.${b}${which}`),
  fc.tuple(count, unit).map(([a, which]) => `-${a}${which}`),
  fc.tuple(duration, fc.constantFrom(' ', '\t', '\n')).map(([valid, space]) => `${valid}${space}`),
  fc.tuple(fc.integer({ min: 1, max: 3 }), unit).map(([zeros, which]) => `${'0'.repeat(zeros)}${which}`),
  fc.tuple(count, fc.constantFrom('M', 'H', 'D', 'S', 'min', 'sec')).map(([a, which]) => `${a}${which}`),
  // Grafana's variables in their braced form are not among those taken.
  fc.constantFrom('', 'five minutes', '$__rate', '$' + '{__rate_interval}', '1e3s', '293y', '106752d')
)

function queriesOf (dashboard: GrafanaDashboard): string[] {
  return dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr)
}

/** Runs promtool check rules on rule files written to a scratch folder; resolves with its output. */
async function checkRules (files: readonly string[]): Promise<{ code: number, output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'frs-generated-'))
  try {
    const paths = files.map((text, index) => {
      const path = join(dir, `rules-${index}.yml`)
      writeFileSync(path, text)
      return path
    })
    return await promtool(['check', 'rules', ...paths])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('grafanaDashboard options', () => {
  it.each([
    ['a rate interval PromQL cannot read', { rateInterval: 'five minutes' }, "option 'grafanaDashboard rateInterval' expects a Prometheus duration such as '5m' or '1h30m', or one of Grafana's '$__rate_interval', '$__interval', '$__range', instead got a 'string' (\"five minutes\")"],
    ['an empty title', { title: ' ' }, "option 'grafanaDashboard title' expects a non-empty string, instead got a 'string' (\" \")"],
    ['a title of another type', { title: 5 }, "option 'grafanaDashboard title' expects a string, instead got a 'number' (5)"],
    ['a uid Grafana refuses', { uid: 'shop/overview' }, "option 'grafanaDashboard uid' expects a Grafana uid: 1 to 40 letters, digits, - and _, instead got a 'string' (\"shop/overview\")"],
    ['a uid longer than Grafana keeps', { uid: 'u'.repeat(41) }, "option 'grafanaDashboard uid' expects a Grafana uid"],
    ['options that are not an object', 'Shop', "option 'grafanaDashboard options' expects an object, instead got a 'string' (\"Shop\")"],
  ])('refuses %s (FRS_ERR_OPTION_INVALID)', (_name, options, message) => {
    const error = thrownBy(() => grafanaDashboard(EVERY_ROW, '', options as never))
    expect(error).toMatchObject({ code: 'FRS_ERR_OPTION_INVALID' })
    expect(error?.message).toContain(`fastify-resilience: ${message}`)
  })

  it('refuses a key it does not know (FRS_ERR_OPTION_UNKNOWN), naming the known ones', () => {
    expect(thrownBy(() => grafanaDashboard(EVERY_ROW, '', { titel: 'Shop' } as never))).toMatchObject({
      code: 'FRS_ERR_OPTION_UNKNOWN',
      message: "fastify-resilience: unknown option 'titel' in grafanaDashboard options; expected one of: title, uid, rateInterval",
    })
  })

  it('refuses a prefix and capabilities the metrics plugin could not have given', () => {
    expect(thrownBy(() => grafanaDashboard(EVERY_ROW, 'shop-'))).toMatchObject({ code: 'FRS_ERR_OPTION_INVALID', message: expect.stringContaining("option 'grafanaDashboard prefix' expects a Prometheus metric name prefix") as string })
    expect(thrownBy(() => grafanaDashboard('loadShedding' as never, ''))).toMatchObject({ code: 'FRS_ERR_OPTION_INVALID', message: expect.stringContaining("option 'grafanaDashboard capabilities' expects an array of capability names") as string })
  })

  it('takes Grafana\'s interval variables, which Grafana fills in', () => {
    for (const rateInterval of ['$__rate_interval', '$__interval', '$__range']) {
      expect(queriesOf(grafanaDashboard(['loadShedding'], '', { rateInterval }))).toContain(`sum by (reason) (rate(load_shedding_shed_total[${rateInterval}]))`)
    }
  })

  it('takes any Prometheus duration as the rate interval, and puts it in every rate()', () => {
    fc.assert(fc.property(duration, (rateInterval) => {
      const rates = queriesOf(grafanaDashboard(EVERY_ROW, 'shop_', { rateInterval })).filter((expr) => expr.includes('rate('))
      expect(rates.length).toBeGreaterThan(10)
      expect(rates.every((expr) => expr.includes(`[${rateInterval}]`))).toBe(true)
    }), PROPERTY_RUNS)
    // The longest Prometheus holds; a day more is refused below.
    expect(() => grafanaDashboard(EVERY_ROW, '', { rateInterval: '106751d' })).not.toThrow()
  })

  it('refuses any rate interval PromQL cannot read', () => {
    fc.assert(fc.property(notADuration, (rateInterval) => {
      expect(thrownBy(() => grafanaDashboard(EVERY_ROW, '', { rateInterval }))).toMatchObject({
        code: 'FRS_ERR_OPTION_INVALID',
        message: expect.stringContaining("option 'grafanaDashboard rateInterval' expects a Prometheus duration") as string,
      })
    }), PROPERTY_RUNS)
  })

  it('writes queries promtool reads, for every rate interval and prefix it accepts (promtool check rules)', async () => {
    const prefix = fc.stringMatching(/^([a-zA-Z_:][a-zA-Z0-9_:]{0,8})?$/)
    const samples = fc.sample(fc.tuple(duration, prefix), { numRuns: 25, seed: 5 })
    const files = samples.map(([rateInterval, metricPrefix]) => {
      const queries = queriesOf(grafanaDashboard(EVERY_ROW, metricPrefix, { rateInterval }))
      return toYaml({ groups: [{ name: 'dashboard', rules: queries.map((expr, index) => ({ record: `dashboard_query_${index}`, expr })) }] })
    })
    const result = await checkRules(files)
    expect(result.output).not.toContain('FAILED')
    expect(result.code).toBe(0)
  })
})

describe('resiliencePrometheusRules', () => {
  const prefixLike = fc.oneof(fc.string({ unit: fc.constantFrom(...'aZ_:09-. '.split('')), maxLength: 8 }), fc.string({ maxLength: 8 }))

  it('accepts exactly the prefixes the metrics plugin accepts, refusing the others with the same message', () => {
    fc.assert(fc.property(prefixLike, (prefix) => {
      const plugin = thrownBy(() => resolveMetricsOptions({ prefix }))
      const exported = thrownBy(() => resiliencePrometheusRules(['loadShedding'], prefix))
      expect(exported?.code).toBe(plugin?.code)
      expect(exported === undefined ? undefined : expectation(exported.message)).toBe(plugin === undefined ? undefined : expectation(plugin.message))
    }), PROPERTY_RUNS)
    expect(thrownBy(() => resiliencePrometheusRules(['loadShedding'], 'shop-'))?.message).toBe("fastify-resilience: option 'resiliencePrometheusRules prefix' expects a Prometheus metric name prefix, instead got a 'string' (\"shop-\")")
  })

  it('refuses another spelling of a capability\'s name, naming the one meant, and takes names of capabilities it has no rows or rules for', () => {
    // A known name with its letters' case changed and separators put between them.
    const respelt = fc.constantFrom(...EVERY_ROW).chain((name) => fc.tuple(
      fc.constant(name),
      fc.array(fc.tuple(fc.boolean(), fc.constantFrom('', '', '-', '_', ' ')), { minLength: name.length, maxLength: name.length })
        .map((changes) => [...name].map((letter, index) => {
          const [upper, separator] = changes[index] ?? [false, '']
          return `${index > 0 ? separator : ''}${upper ? letter.toUpperCase() : letter.toLowerCase()}`
        }).join(''))
    )).filter(([name, spelling]) => spelling !== name)
    fc.assert(fc.property(respelt, ([name, spelling]) => {
      for (const generate of [() => resiliencePrometheusRules([spelling], ''), () => grafanaDashboard([spelling], '')]) {
        expect(thrownBy(generate)).toMatchObject({ code: 'FRS_ERR_OPTION_INVALID', message: expect.stringContaining(`('${name}')`) as string })
      }
    }), PROPERTY_RUNS)
    expect(resiliencePrometheusRules(['loadShedding', 'myQueue'], '')).toBe(resiliencePrometheusRules(['loadShedding'], ''))
    expect(grafanaDashboard(['billing', 'loadShedding'], '').panels).toEqual(grafanaDashboard(['loadShedding'], '').panels)
  })

  it('refuses capabilities that are not a list of names', () => {
    expect(thrownBy(() => resiliencePrometheusRules('loadShedding' as never, ''))).toMatchObject({ code: 'FRS_ERR_OPTION_INVALID', message: expect.stringContaining("option 'resiliencePrometheusRules capabilities' expects an array of capability names") as string })
  })

  it('writes rules promtool accepts for every prefix it accepts (promtool check rules)', async () => {
    const accepted = prefixLike.filter((prefix) => thrownBy(() => resolveMetricsOptions({ prefix })) === undefined)
    const files = fc.sample(accepted, { numRuns: 25, seed: 3 }).map((prefix) => resiliencePrometheusRules(['loadShedding', 'dependencies'], prefix))
    const result = await checkRules(files)
    expect(result.output).not.toContain('FAILED')
    expect(result.code).toBe(0)
  })
})
