import { writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { expect } from 'vitest'
import { promtool } from '../helpers/promtool.js'

/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses the samples of a text exposition (comments skipped). */
export function parseExposition (text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = LINE.exec(line)
    if (match === null) throw new Error(`not an exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, name = '', value = ''] of (match[2] ?? '').matchAll(LABEL)) labels[name] = value.replace(/\\"/g, '"').replace(/\\\\/g, '\\')
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) })
  }
  return samples
}

/** Fetches the scrape route over HTTP and parses it. */
export async function scrape (port: number, path = '/metrics'): Promise<{ text: string, samples: Sample[], contentType: string | null }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`)
  if (response.status !== 200) throw new Error(`scrape answered ${response.status}`)
  const text = await response.text()
  return { text, samples: parseExposition(text), contentType: response.headers.get('content-type') }
}

/** The value of the one series of `name` whose labels include `labels`; throws when there is none or several. */
export function valueOf (samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
  if (found.length !== 1) throw new Error(`${found.length} series of ${name} with ${JSON.stringify(labels)}`)
  return (found[0] as Sample).value
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan'])

/** The metric names a PromQL expression selects: identifiers that are not functions, keywords, labels or numbers. */
export function metricNames (expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '')
  const names: string[] = []
  for (const match of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice((match.index ?? 0) + match[0].length).trimStart()
    if (after.startsWith('(') || PROMQL_WORDS.has(match[0].toLowerCase())) continue
    names.push(match[0])
  }
  return names
}

/**
 * Runs `promtool test rules` on the rule file `rulesPath` with
 * DependencyBreakerOpen's expectations, fed one sample a minute of the
 * `dependency_breaker_state{state="open"}` series given by dependency: no
 * alert at 4 minutes, the alert for `payments` alone at 10.
 */
export async function expectBreakerAlert (rulesPath: string, openSeries: Readonly<Record<string, string>>): Promise<void> {
  const test = [
    `rule_files: [${basename(rulesPath)}]`,
    'evaluation_interval: 1m',
    'tests:',
    '  - interval: 1m',
    '    input_series:',
    ...Object.entries(openSeries).flatMap(([dependency, values]) => [
      `      - series: 'dependency_breaker_state{dependency="${dependency}", state="open"}'`,
      `        values: "${values}"`,
    ]),
    '    alert_rule_test:',
    '      - eval_time: 4m',
    '        alertname: DependencyBreakerOpen',
    '        exp_alerts: []',
    '      - eval_time: 10m',
    '        alertname: DependencyBreakerOpen',
    '        exp_alerts:',
    '          - exp_labels: { severity: ticket, dependency: payments }',
    '            exp_annotations:',
    '              summary: "The circuit breaker of payments stays open"',
    '              description: "Calls to payments have been refused by its open breaker for 5 minutes: requests that need it fail fast or answer from fallbacks."',
  ].join('\n')
  const testPath = join(dirname(rulesPath), 'breaker-open.test.yml')
  writeFileSync(testPath, `${test}\n`)
  const result = await promtool(['test', 'rules', testPath])
  expect(result.output).toContain('SUCCESS')
  expect(result.code).toBe(0)
}
