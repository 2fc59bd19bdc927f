import fc from 'fast-check'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openSloSpecs, prometheusRules, resolveObjective, slothSpec } from '../../../src/error-budget/index.js'
import type { Objective } from '../../../src/error-budget/index.js'
import { promtool } from '../../helpers/promtool.js'

/*
 * The checks the consumers of the exports apply, written from their
 * published rules:
 * - OpenSLO v1, "General Schema" notes: metadata.name is an RFC 1123 (DNS)
 *   label: at most 63 characters, lowercase letters, digits and '-', first
 *   and last a letter or digit. spec.service names a Service object, so it
 *   follows the same rule.
 * - Sloth prometheus/v1 validation: the service and every SLO name start
 *   and end with a letter or digit and contain only letters, digits, '.',
 *   '_' and '-'; the objective is above 0 and at most 100; an enabled
 *   alert has a name; label keys are Prometheus label names.
 * - Prometheus data model and rule files: a recording rule's name is a
 *   metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), label names match
 *   [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__", an alert name is a
 *   label value (any text).
 */
const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const SLOTH_NAME = /^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$/
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

function openSloViolations (name: string, where: string): string[] {
  const problems: string[] = []
  if (name.length > 63) problems.push(`${where} '${name}' is longer than 63 characters`)
  if (!RFC1123_LABEL.test(name)) problems.push(`${where} '${name}' is not an RFC 1123 label`)
  return problems
}

/** Values of `key: "…"` lines at exactly `indent` spaces (every string the exporter writes is JSON-quoted). */
function quoted (yaml: string, indent: number, key: string): string[] {
  const pattern = new RegExp(`^ {${indent}}(?:- )?${key}: (".*")$`, 'gm')
  return [...yaml.matchAll(pattern)].map((match) => JSON.parse(match[1] ?? '""') as string)
}

// Every name the library accepts (its rule, checked below through resolveObjective).
const acceptedName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_:-]{0,63}$/)
const objectivesOf = (names: readonly string[]): Objective[] => names.flatMap((name) => resolveObjective({ name, availability: 0.999, latency: { thresholdMs: 250, target: 0.99 } }, 'test'))
const SERVICE = 'shop-api'

describe('exports: every name the library accepts exports validly', () => {
  it('gives OpenSLO documents RFC 1123 names, distinct for distinct SLOs', () => {
    fc.assert(fc.property(fc.uniqueArray(acceptedName, { minLength: 1, maxLength: 6 }), (names) => {
      const documents = openSloSpecs(objectivesOf(names), { service: SERVICE }).split('---\n')
      expect(documents).toHaveLength(names.length * 2)
      const sloNames = documents.flatMap((document) => quoted(document, 2, 'name').slice(0, 1))
      const indicatorNames = documents.flatMap((document) => quoted(document, 6, 'name'))
      expect(sloNames).toHaveLength(documents.length)
      expect(indicatorNames).toHaveLength(documents.length)
      const problems = [
        ...sloNames.flatMap((name) => openSloViolations(name, 'metadata.name')),
        ...indicatorNames.flatMap((name) => openSloViolations(name, 'spec.indicator.metadata.name')),
        ...documents.flatMap((document) => quoted(document, 2, 'service')).flatMap((name) => openSloViolations(name, 'spec.service')),
      ]
      expect(problems).toEqual([])
      expect(new Set(sloNames).size).toBe(sloNames.length)
    }), { numRuns: 300 })
  })

  it('gives Sloth specs names Sloth validates, distinct for distinct SLOs', () => {
    fc.assert(fc.property(fc.uniqueArray(acceptedName, { minLength: 1, maxLength: 6 }), (names) => {
      const spec = slothSpec(objectivesOf(names), { service: SERVICE })
      expect(quoted(spec, 0, 'service')).toEqual([SERVICE])
      const sloNames = quoted(spec, 2, 'name')
      expect(sloNames).toHaveLength(names.length * 2)
      expect(sloNames.filter((name) => !SLOTH_NAME.test(name))).toEqual([])
      expect(new Set(sloNames).size).toBe(sloNames.length)
      const objectives = [...spec.matchAll(/^ {4}objective: (.*)$/gm)].map((match) => Number(match[1]))
      expect(objectives.every((value) => value > 0 && value <= 100)).toBe(true)
      expect(quoted(spec, 6, 'name').every((name) => name !== '')).toBe(true)
      const labelKeys = [...spec.matchAll(/^ {8}labels:\n {10}([^:]+):/gm)].map((match) => match[1] ?? '')
      expect(labelKeys.filter((key) => !LABEL_NAME.test(key))).toEqual([])
    }), { numRuns: 300 })
  })

  it('writes Prometheus rules with valid metric and label names, whatever the SLO names and prefix', () => {
    const prefix = fc.stringMatching(/^([a-zA-Z_:][a-zA-Z0-9_:]{0,10})?$/)
    fc.assert(fc.property(fc.uniqueArray(acceptedName, { minLength: 1, maxLength: 4 }), prefix, (names, metricPrefix) => {
      const rules = prometheusRules(objectivesOf(names), { prefix: metricPrefix })
      const records = quoted(rules, 6, 'record')
      expect(records.length).toBeGreaterThan(0)
      expect(records.filter((name) => !METRIC_NAME.test(name))).toEqual([])
      const labelKeys = [...rules.matchAll(/^ {10}([^: ]+): /gm)].map((match) => match[1] ?? '')
      expect(labelKeys.length).toBeGreaterThan(0)
      expect(labelKeys.filter((key) => !LABEL_NAME.test(key) || key.startsWith('__'))).toEqual([])
    }), { numRuns: 300 })
  })

  it('writes rules that promtool accepts for a sample of accepted names', async () => {
    const names = [...new Set(fc.sample(acceptedName, { numRuns: 40, seed: 7 }))]
    const dir = mkdtempSync(join(tmpdir(), 'frs-names-'))
    try {
      const path = join(dir, 'rules.yml')
      writeFileSync(path, prometheusRules(objectivesOf(names), { prefix: 'shop:' }))
      const result = await promtool(['check', 'rules', path])
      expect(result.output).not.toMatch(/duplicate/i)
      expect(result.output).toContain('SUCCESS')
      expect(result.code).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('keeps names that are already valid everywhere as they were', () => {
    const spec = openSloSpecs(objectivesOf(['orders']), { service: SERVICE })
    expect(quoted(spec, 2, 'name')).toEqual(['orders-availability', 'orders-latency'])
  })

  it('maps other names deterministically, with a hash that keeps apart names differing only by case or punctuation', () => {
    const first = quoted(slothSpec(objectivesOf(['checkout_api', 'Checkout-API', 'api:v2']), { service: SERVICE }), 2, 'name')
    const again = quoted(slothSpec(objectivesOf(['checkout_api', 'Checkout-API', 'api:v2']), { service: SERVICE }), 2, 'name')
    expect(first).toEqual(again)
    expect(first[0]).toMatch(/^checkout-api-[0-9a-f]{8}-availability$/)
    expect(first[2]).toMatch(/^checkout-api-[0-9a-f]{8}-availability$/)
    expect(first[0]).not.toBe(first[2])
    expect(first[4]).toMatch(/^api-v2-[0-9a-f]{8}-availability$/)
  })

  it('refuses a service name the exports cannot carry, naming what is expected', () => {
    for (const service of ['Shop', 'shop_api', 'a', '-shop', 'shop.api', 'x'.repeat(64)]) {
      expect(() => slothSpec(objectivesOf(['orders']), { service })).toThrow(/RFC 1123 label/)
      expect(() => openSloSpecs(objectivesOf(['orders']), { service })).toThrow(/RFC 1123 label/)
    }
  })
})
