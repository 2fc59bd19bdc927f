import { describe, expect, it } from 'vitest'
import { openSloSpecs, prometheusRules, resolveObjective, slothSpec, toYaml } from '../../../src/error-budget/index.js'

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
    expect(rules).toContain('expr: "(slo:error_ratio:rate1h{slo=\\"orders\\",sli=\\"availability\\"} > (14.4 * 0.001) and slo:error_ratio:rate5m{slo=\\"orders\\",sli=\\"availability\\"} > (14.4 * 0.001)) or (slo:error_ratio:rate6h{slo=\\"orders\\",sli=\\"availability\\"} > (6 * 0.001) and slo:error_ratio:rate30m{slo=\\"orders\\",sli=\\"availability\\"} > (6 * 0.001))"')
    expect(rules).toContain('expr: "(slo:error_ratio:rate3d{slo=\\"orders\\",sli=\\"latency\\"} > (1 * 0.01) and slo:error_ratio:rate6h{slo=\\"orders\\",sli=\\"latency\\"} > (1 * 0.01))"')
    expect(rules.match(/severity: "page"/g)).toHaveLength(2)
    expect(rules.match(/severity: "ticket"/g)).toHaveLength(2)
  })

  it('leaves out the alert of a severity no rule has', () => {
    const pageOnly = prometheusRules(OBJECTIVES, { rules: [{ severity: 'page', burnRate: 10, longWindowMs: 3_600_000, shortWindowMs: 300_000 }] })
    expect(pageOnly.match(/- alert:/g)).toHaveLength(2)
    expect(pageOnly).not.toContain('Ticket')
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
