import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import * as entry from '../plugins/index.js'

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { exports: Record<string, { types: string, import: string } | string> }

/** The source module a subpath of the package maps to, from its `import` condition. */
async function importSubpath (subpath: string): Promise<Record<string, unknown>> {
  const target = manifest.exports[subpath]
  if (target === undefined || typeof target === 'string') throw new TypeError(`no conditional export for ${subpath}`)
  const source = target.import.replace(/^\.\/dist\//, '../').replace(/\.js$/, '.ts')
  return await import(source) as Record<string, unknown>
}

describe('package exports', () => {
  it('the default export is the umbrella plugin, also exported by name', () => {
    expect(entry.default).toBe(entry.resilience)
    expect(typeof entry.default).toBe('function')
  })

  it.each([
    ['resilience', 'fastify-resilience'],
    ['problemDetails', 'fastify-resilience/problem-details'],
    ['deadlines', 'fastify-resilience/deadlines'],
    ['idempotency', 'fastify-resilience/idempotency'],
    ['loadShedding', 'fastify-resilience/load-shedding'],
    ['errorBudget', 'fastify-resilience/error-budget'],
    ['chaos', 'fastify-resilience/chaos'],
    ['health', 'fastify-resilience/health'],
    ['metrics', 'fastify-resilience/metrics'],
    ['dependencies', 'fastify-resilience/dependencies'],
    ['statusPage', 'fastify-resilience/status-page'],
  ] as const)('%s is a fastify-plugin named %s for Fastify 5', (name, pluginName) => {
    const plugin = entry[name] as unknown as Record<symbol, unknown> & { [key: string]: unknown }
    expect(plugin[Symbol.for('skip-override')]).toBe(true)
    expect(plugin[Symbol.for('fastify.display-name')]).toBe(pluginName)
    expect(plugin[Symbol.for('plugin-meta')]).toMatchObject({ name: pluginName, fastify: '5.x' })
  })

  it.each([
    ['problemDetails', './problem-details'],
    ['deadlines', './deadlines'],
    ['idempotency', './idempotency'],
    ['loadShedding', './load-shedding'],
    ['errorBudget', './error-budget'],
    ['chaos', './chaos'],
    ['dependencies', './dependencies'],
    ['health', './health'],
    ['metrics', './metrics'],
    ['statusPage', './status-page'],
  ] as const)('%s is importable from the subpath its plugin name says', async (name, subpath) => {
    const module = await importSubpath(subpath)
    const plugin = module[name] as Record<symbol, unknown>
    expect(plugin).toBe(entry[name])
    expect(plugin[Symbol.for('fastify.display-name')]).toBe(`fastify-resilience${subpath.slice(1)}`)
  })

  it('every subpath export has types next to its module, and the root exports all of them', async () => {
    const subpaths = Object.keys(manifest.exports).filter((key) => key !== '.' && key !== './package.json')
    expect(subpaths.length).toBeGreaterThanOrEqual(10)
    for (const subpath of subpaths) {
      const target = manifest.exports[subpath]
      expect(target).toEqual({ types: expect.stringMatching(/\.d\.ts$/), import: expect.stringMatching(/\.js$/) })
      if (typeof target === 'string' || target === undefined) continue
      expect(target.types.replace(/\.d\.ts$/, '')).toBe(target.import.replace(/\.js$/, ''))
      const module = await importSubpath(subpath)
      for (const [key, value] of Object.entries(module)) expect(entry[key as keyof typeof entry], `${subpath} ${key}`).toBe(value)
    }
  })

  it('exports the error table with stable codes', () => {
    expect(Object.keys(entry.errors).sort()).toEqual([
      'FRS_ERR_CLIENT_CLOSED',
      'FRS_ERR_DEADLINE_CHILD_INVALID',
      'FRS_ERR_DEADLINE_EXCEEDED',
      'FRS_ERR_DEPENDENCY_FAILED',
      'FRS_ERR_DEPENDENCY_TIMEOUT',
      'FRS_ERR_DEPENDENCY_UNAVAILABLE',
      'FRS_ERR_DEPENDENCY_UNKNOWN',
      'FRS_ERR_DEPENDENCY_URL_OUTSIDE',
      'FRS_ERR_FINGERPRINT_CYCLE',
      'FRS_ERR_IDEMPOTENCY_SCOPE_INVALID',
      'FRS_ERR_IDEMPOTENCY_STORE_FULL',
      'FRS_ERR_IDEMPOTENCY_STORE_REPLY',
      'FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT',
      'FRS_ERR_OPTION_INVALID',
      'FRS_ERR_OPTION_UNKNOWN',
      'FRS_ERR_PLUGIN_REGISTERED_TWICE',
      'FRS_ERR_PROBLEM_STATUS_INVALID',
      'FRS_ERR_PROBLEM_TYPE_INVALID',
      'FRS_ERR_PROBLEM_TYPE_UNKNOWN',
      'FRS_ERR_ROUTE_CONFIG_INVALID',
    ])
    for (const [code, ErrorClass] of Object.entries(entry.errors)) {
      const Constructor = ErrorClass as unknown as new (...args: unknown[]) => Error & { code: string }
      expect(new Constructor('a', 'b', 'c', 'd').code).toBe(code)
    }
  })

  it('exports the priority classes and shed reasons', () => {
    expect(entry.PRIORITIES).toEqual(['critical', 'high', 'normal', 'low'])
    expect(entry.SHED_REASONS).toEqual(['concurrency', 'queue-timeout', 'deadline', 'pressure', 'bulkhead'])
  })

  it('exports the diagnostics_channel names', () => {
    expect(entry.CHANNEL_NAMES).toEqual({
      shed: 'fastify-resilience:shed',
      deadlineExpired: 'fastify-resilience:deadline-expired',
      replayed: 'fastify-resilience:idempotency-replayed',
      faultInjected: 'fastify-resilience:fault-injected',
      breakerStateChanged: 'fastify-resilience:dependency:state',
    })
  })

  it('exports the problem helpers', () => {
    expect(typeof entry.ProblemError).toBe('function')
    expect(typeof entry.isProblemError).toBe('function')
    expect(typeof entry.ProblemTypeRegistry).toBe('function')
    expect(typeof entry.problemClientErrorHandler).toBe('function')
    expect(typeof entry.problemFrameworkErrors).toBe('function')
    expect(entry.PROBLEM_CONTENT_TYPE).toBe('application/problem+json')
    expect(entry.DEFAULT_TYPE_BASE).toBe('urn:fastify-resilience:problem:')
  })
})
