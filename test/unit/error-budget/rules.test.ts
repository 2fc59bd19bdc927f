import fc from 'fast-check'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openSloSpecs, prometheusRules, resolveErrorBudgetOptions, resolveObjective, slothSpec, toYaml } from '../../../src/error-budget/index.js'
import type { Objective } from '../../../src/error-budget/index.js'
import { PROPERTY_RUNS } from '../../helpers/arbitraries.js'
import { promtool } from '../../helpers/promtool.js'
import { expectation, thrownBy } from '../../helpers/thrown.js'

const OBJECTIVES = resolveObjective({ name: 'orders', availability: 0.999, latency: { thresholdMs: 300, target: 0.99 } }, 'x')

describe('toYaml', () => {
  it('writes block-style YAML with every string quoted', () => {
    expect(toYaml({ groups: [{ name: 'a: b', rules: [] }], n: 1.5, on: true, 'odd key': { x: 'say "hi"' } })).toBe([
      'groups:',
      '  - name: "a: b"',
      '    rules: []',
      'n: 1.5',
      'on: true',
      '"odd key":',
      '  x: "say \\"hi\\""',
      '',
    ].join('\n'))
  })
})

describe('prometheusRules', () => {
  const rules = prometheusRules(OBJECTIVES)

  it('records the error ratio of each indicator over every window of the policy', () => {
    for (const window of ['5m', '30m', '1h', '6h', '3d']) {
      expect(rules).toContain(`- record: "slo:error_ratio:rate${window}"`)
    }
    expect(rules).toContain('expr: "sum(rate(slo_events_total{slo=\\"orders\\",sli=\\"availability\\",result=\\"bad\\"}[5m])) / sum(rate(slo_events_total{slo=\\"orders\\",sli=\\"availability\\"}[5m]))"')
    expect(rules.match(/- record:/g)).toHaveLength(2 * 5)
  })

  it('alerts once per indicator and severity, ORing the window pairs of that severity, with the severity as a label', () => {
    expect(rules.match(/- alert:/g)).toHaveLength(4)
    expect(rules).toContain('- alert: "OrdersAvailabilityBudgetBurnPage"')
    expect(rules).toContain('- alert: "OrdersLatencyBudgetBurnTicket"')
    const events = (sli: string, window: string): string => `sum by (slo, sli) (increase(slo_events_total{slo=\\"orders\\",sli=\\"${sli}\\"}[${window}])) >= 20`
    expect(rules).toContain(`expr: "(slo:error_ratio:rate1h{slo=\\"orders\\",sli=\\"availability\\"} > (14.4 * 0.001) and slo:error_ratio:rate5m{slo=\\"orders\\",sli=\\"availability\\"} > (14.4 * 0.001) and ${events('availability', '1h')}) or (slo:error_ratio:rate6h{slo=\\"orders\\",sli=\\"availability\\"} > (6 * 0.001) and slo:error_ratio:rate30m{slo=\\"orders\\",sli=\\"availability\\"} > (6 * 0.001) and ${events('availability', '6h')})"`)
    expect(rules).toContain(`expr: "(slo:error_ratio:rate3d{slo=\\"orders\\",sli=\\"latency\\"} > (1 * 0.01) and slo:error_ratio:rate6h{slo=\\"orders\\",sli=\\"latency\\"} > (1 * 0.01) and ${events('latency', '3d')})"`)
    expect(rules.match(/severity: "page"/g)).toHaveLength(2)
    expect(rules.match(/severity: "ticket"/g)).toHaveLength(2)
  })

  it('leaves out the alert of a severity no rule has', () => {
    const pageOnly = prometheusRules(OBJECTIVES, { rules: [{ severity: 'page', burnRate: 10, longWindowMs: 3_600_000, shortWindowMs: 300_000 }] })
    expect(pageOnly.match(/- alert:/g)).toHaveLength(2)
    expect(pageOnly).not.toContain('Ticket')
  })

  it('fires a pair only when its long window holds minEvents events (20 unless given), as the plugin evaluates', () => {
    expect(rules.match(/>= 20\)/g)).toHaveLength(6)
    const quiet = prometheusRules(OBJECTIVES, { minEvents: 100 })
    expect(quiet.match(/>= 100\)/g)).toHaveLength(6)
    expect(quiet).not.toContain('>= 20)')
    expect(thrownBy(() => prometheusRules(OBJECTIVES, { minEvents: 0 }))).toMatchObject({ code: 'FRS_ERR_OPTION_INVALID' })
  })

  it('uses the metrics prefix', () => {
    expect(prometheusRules(OBJECTIVES, { prefix: 'shop_' })).toContain('sum(rate(shop_slo_events_total{')
  })
})

describe('slothSpec and openSloSpecs', () => {
  it('writes a Sloth prometheus/v1 spec with one SLO per indicator', () => {
    const spec = slothSpec(OBJECTIVES, { service: 'shop' })
    expect(spec.startsWith('# The SLO period is not part of a Sloth spec: generate with sloth generate --default-slo-period=30d\nversion: "prometheus/v1"\nservice: "shop"\nslos:\n')).toBe(true)
    expect(spec).toContain('  - name: "orders-availability"\n    objective: 99.9\n')
    expect(spec).toContain('  - name: "orders-latency"\n    objective: 99\n')
    expect(spec).toContain('error_query: "sum(rate(slo_events_total{slo=\\"orders\\",sli=\\"latency\\",result=\\"bad\\"}[{{.window}}]))"')
  })

  it("names the objectives' window in the Sloth option that sets it, and refuses to mix windows Sloth would generate over one period", () => {
    const weekly = resolveObjective({ name: 'checkout', availability: 0.99, windowDays: 7 }, 'x')
    expect(slothSpec(weekly, { service: 'shop' }).split('\n', 1)[0]).toBe('# The SLO period is not part of a Sloth spec: generate with sloth generate --default-slo-period=7d')
    expect(() => slothSpec([...weekly, ...OBJECTIVES], { service: 'shop' })).toThrow(/one window.*--default-slo-period.*windows of 7d, 30d/)
    expect(openSloSpecs([...weekly, ...OBJECTIVES], { service: 'shop' })).toContain('duration: "7d"')
  })

  it('writes one OpenSLO v1 document per indicator', () => {
    const specs = openSloSpecs(OBJECTIVES, { service: 'shop' })
    const documents = specs.split('---\n')
    expect(documents).toHaveLength(2)
    expect(documents[0]).toContain('apiVersion: "openslo/v1"\nkind: "SLO"\nmetadata:\n  name: "orders-availability"\n')
    expect(documents[0]).toContain('budgetingMethod: "Occurrences"')
    expect(documents[0]).toContain('  timeWindow:\n    - duration: "30d"\n      isRolling: true\n')
    expect(documents[1]).toContain('target: 0.99')
  })
})

// Any value a rule's field could be given, valid or not.
const ruleField = fc.oneof(fc.constantFrom('page', 'ticket', 'pager', ''), fc.double(), fc.integer({ min: -10, max: 100_000_000_000 }), fc.constantFrom(60_000, 300_000, 3_600_000, 21_600_000, 259_200_000), fc.constant(undefined))
const alertRule = fc.record({ severity: ruleField, burnRate: ruleField, longWindowMs: ruleField, shortWindowMs: ruleField })
const prefixLike = fc.string({ unit: fc.constantFrom(...'aZ_:09-. '.split('')), maxLength: 8 })

describe('the exports check what they are given as the plugin does', () => {
  it.each([
    ['a prefix that is no metric-name prefix', () => prometheusRules(OBJECTIVES, { prefix: 'shop-' }), "option 'prometheusRules prefix' expects a Prometheus metric name prefix, instead got a 'string' (\"shop-\")"],
    ['a rule of no severity', () => prometheusRules(OBJECTIVES, { rules: [{ severity: 'pager' as never, burnRate: 14.4, longWindowMs: 3_600_000, shortWindowMs: 300_000 }] }), "option 'prometheusRules rules[0].severity' expects 'page' or 'ticket', instead got a 'string' (\"pager\")"],
    ['a burn rate below 0', () => prometheusRules(OBJECTIVES, { rules: [{ severity: 'page', burnRate: -1, longWindowMs: 3_600_000, shortWindowMs: 300_000 }] }), "option 'prometheusRules rules[0].burnRate' expects a positive number, instead got a 'number' (-1)"],
    ['windows of 5 and 10 ms, written as ranges of 0s', () => prometheusRules(OBJECTIVES, { rules: [{ severity: 'page', burnRate: 1, longWindowMs: 5, shortWindowMs: 10 }] }), "option 'prometheusRules rules[0].longWindowMs' expects an integer of milliseconds from one minute to 90 days, instead got a 'number' (5)"],
    ['no rules', () => prometheusRules(OBJECTIVES, { rules: [] }), "option 'prometheusRules rules' expects a non-empty array of { severity, burnRate, longWindowMs, shortWindowMs }"],
    ['a target above 1, whose alerts would always fire', () => prometheusRules([{ ...OBJECTIVES[0] as Objective, target: 1.5 }]), "option 'prometheusRules objectives[0].target' expects a target strictly between 0 and 1, e.g. 0.999, instead got a 'number' (1.5)"],
    ['a name the plugin refuses', () => prometheusRules([{ ...OBJECTIVES[0] as Objective, name: 'with space' }]), "option 'prometheusRules objectives[0].name' expects a name of at most 64 characters"],
    ['a window of no whole days', () => openSloSpecs([{ ...OBJECTIVES[0] as Objective, windowMs: 36 * 3_600_000 }], { service: 'shop' }), "option 'openSloSpecs objectives[0].windowMs' expects a whole number of days from 1 to 90, in milliseconds (86400000 a day), instead got a 'number' (129600000)"],
    ['a latency indicator without a threshold', () => slothSpec([{ ...OBJECTIVES[1] as Objective, thresholdMs: undefined }], { service: 'shop' }), "option 'slothSpec objectives[0].thresholdMs' expects a positive number of milliseconds, instead got 'undefined'"],
    ['an indicator of no kind', () => slothSpec([{ ...OBJECTIVES[0] as Objective, sli: 'errors' as never }], { service: 'shop' }), "option 'slothSpec objectives[0].sli' expects 'availability' or 'latency'"],
    ['the same indicator twice', () => prometheusRules([...OBJECTIVES, ...OBJECTIVES]), "option 'prometheusRules objectives[2].name' expects a name not given before with sli 'availability', instead got a 'string' (\"orders\")"],
    ['objectives that are not a list', () => prometheusRules(OBJECTIVES[0] as never), "option 'prometheusRules objectives' expects an array of objectives"],
    ['a prefix with a space', () => slothSpec(OBJECTIVES, { service: 'shop', prefix: 'a b' }), "option 'slothSpec prefix' expects a Prometheus metric name prefix"],
    ['a prefix of another type', () => openSloSpecs(OBJECTIVES, { service: 'shop', prefix: 5 as never }), "option 'openSloSpecs prefix' expects a string, instead got a 'number' (5)"],
  ])('refuses %s (FRS_ERR_OPTION_INVALID)', (_name, run, message) => {
    const error = thrownBy(run)
    expect(error).toMatchObject({ code: 'FRS_ERR_OPTION_INVALID' })
    expect(error?.message).toContain(`fastify-resilience: ${message}`)
  })

  it.each([
    ['prometheusRules', () => prometheusRules(OBJECTIVES, { prefx: 'shop_' } as never), "unknown option 'prefx' in prometheusRules options; expected one of: prefix, rules, minEvents"],
    ['slothSpec', () => slothSpec(OBJECTIVES, { service: 'shop', labels: {} } as never), "unknown option 'labels' in slothSpec options; expected one of: service, prefix"],
    ['openSloSpecs', () => openSloSpecs(OBJECTIVES, { service: 'shop', prefx: '' } as never), "unknown option 'prefx' in openSloSpecs options; expected one of: service, prefix"],
    ['a rule', () => prometheusRules(OBJECTIVES, { rules: [{ severity: 'page', burnRate: 1, longWindowMs: 3_600_000, shortWindowMs: 300_000, for: '5m' } as never] }), "unknown option 'for' in prometheusRules rules[0]; expected one of: severity, burnRate, longWindowMs, shortWindowMs"],
    // A declaration where a resolved objective belongs: its keys name the mistake.
    ['an objective', () => prometheusRules([{ name: 'api', availability: 0.99 } as never]), "unknown option 'availability' in prometheusRules objectives[0]; expected one of: name, sli, target, thresholdMs, windowMs"],
  ])('%s refuses a key it does not know (FRS_ERR_OPTION_UNKNOWN)', (_name, run, message) => {
    const error = thrownBy(run)
    expect(error).toMatchObject({ code: 'FRS_ERR_OPTION_UNKNOWN', message: `fastify-resilience: ${message}` })
  })

  it('accepts every objective the plugin resolves, as app.errorBudget.objectives() gives them', () => {
    const definition = fc.record({
      name: fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_:-]{0,63}$/),
      availability: fc.double({ min: 0, max: 1, minExcluded: true, maxExcluded: true, noNaN: true }),
      latency: fc.record({ thresholdMs: fc.double({ min: 0.001, max: 1e6, noNaN: true }), target: fc.double({ min: 0, max: 1, minExcluded: true, maxExcluded: true, noNaN: true }) }),
      windowDays: fc.integer({ min: 1, max: 90 }),
    }, { requiredKeys: ['name'] }).filter((objective) => objective.availability !== undefined || objective.latency !== undefined)
    fc.assert(fc.property(definition, (declared) => {
      const objectives = resolveObjective(declared, 'test')
      expect(() => prometheusRules(objectives)).not.toThrow()
      expect(() => slothSpec(objectives, { service: 'shop' })).not.toThrow()
      expect(() => openSloSpecs(objectives, { service: 'shop' })).not.toThrow()
    }), PROPERTY_RUNS)
  })

  it('accepts exactly the prefixes the plugin accepts, refusing the others with the same message', () => {
    fc.assert(fc.property(fc.oneof(prefixLike, fc.string({ maxLength: 8 })), (prefix) => {
      const plugin = thrownBy(() => resolveErrorBudgetOptions({ metrics: { prefix } }))
      const exported = thrownBy(() => prometheusRules(OBJECTIVES, { prefix }))
      expect(exported?.code).toBe(plugin?.code)
      expect(exported === undefined ? undefined : expectation(exported.message)).toBe(plugin === undefined ? undefined : expectation(plugin.message))
    }), PROPERTY_RUNS)
  })

  it('accepts exactly the alert rules the plugin accepts, refusing the others with the same message', () => {
    fc.assert(fc.property(fc.array(alertRule, { maxLength: 3 }), (rules) => {
      const plugin = thrownBy(() => resolveErrorBudgetOptions({ alertRules: rules }))
      const exported = thrownBy(() => prometheusRules(OBJECTIVES, { rules: rules as never }))
      expect(exported?.code).toBe(plugin?.code)
      expect(exported === undefined ? undefined : expectation(exported.message)).toBe(plugin === undefined ? undefined : expectation(plugin.message))
    }), PROPERTY_RUNS)
  })

  it('refuses any target not strictly between 0 and 1, as the plugin refuses it in a declaration', () => {
    const target = fc.oneof(fc.double(), fc.constantFrom(0, 1, -0, Number.NaN, Infinity))
    fc.assert(fc.property(target, (value) => {
      const plugin = thrownBy(() => resolveObjective({ name: 'orders', availability: value }, 'x'))
      const exported = thrownBy(() => prometheusRules([{ ...OBJECTIVES[0] as Objective, target: value }]))
      expect(exported === undefined).toBe(plugin === undefined)
      if (exported !== undefined && plugin !== undefined) expect(expectation(exported.message)).toBe(expectation(plugin.message))
    }), PROPERTY_RUNS)
  })

  it('writes rules promtool accepts for every prefix and policy it accepts (promtool check rules)', async () => {
    const accepted = fc.tuple(fc.oneof(prefixLike, fc.constant('')), fc.array(alertRule, { minLength: 1, maxLength: 3 }))
      .filter(([prefix, rules]) => thrownBy(() => prometheusRules(OBJECTIVES, { prefix, rules: rules as never })) === undefined)
    const samples = fc.sample(accepted, { numRuns: 30, seed: 11 })
    const dir = mkdtempSync(join(tmpdir(), 'frs-rules-'))
    try {
      const paths = samples.map(([prefix, rules], index) => {
        const path = join(dir, `rules-${index}.yml`)
        writeFileSync(path, prometheusRules(OBJECTIVES, { prefix, rules: rules as never }))
        return path
      })
      const result = await promtool(['check', 'rules', ...paths])
      expect(result.output).not.toContain('FAILED')
      expect(result.code).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
