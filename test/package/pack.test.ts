import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
const fastifyVersion = (JSON.parse(readFileSync(join(root, 'node_modules/fastify/package.json'), 'utf8')) as { version: string }).version
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }
const SUBPATHS = Object.keys(manifest.exports).filter((key) => key !== './package.json').map((key) => key === '.' ? 'fastify-resilience' : `fastify-resilience/${key.slice(2)}`)

/** Third-party packages a subpath must not load: those of the other capabilities. */
const NOT_LOADED: Record<string, string[]> = {
  'fastify-resilience/problem-details': ['prom-client', 'ioredis', '@fastify/under-pressure', 'cockatiel'],
  'fastify-resilience/deadlines': ['prom-client', 'ioredis', '@fastify/under-pressure', 'cockatiel'],
  'fastify-resilience/idempotency': ['prom-client', 'ioredis', '@fastify/under-pressure', 'cockatiel'],
  'fastify-resilience/chaos': ['prom-client', 'ioredis', '@fastify/under-pressure', 'cockatiel'],
  'fastify-resilience/load-shedding': ['prom-client', 'ioredis', 'cockatiel'],
  'fastify-resilience/error-budget': ['ioredis', '@fastify/under-pressure', 'cockatiel'],
  'fastify-resilience/dependencies': ['prom-client', 'ioredis', '@fastify/under-pressure'],
  'fastify-resilience/health': ['prom-client', 'ioredis', '@fastify/under-pressure', 'cockatiel'],
  'fastify-resilience/metrics': ['ioredis', '@fastify/under-pressure', 'cockatiel'],
  'fastify-resilience/status-page': ['prom-client', 'ioredis', '@fastify/under-pressure', 'cockatiel'],
  'fastify-resilience': ['ioredis'],
}

function run (command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } })
}

const consumer = `
import Fastify from 'fastify'
import resilience, { problemDetails, ProblemError } from 'fastify-resilience'

const app = Fastify()
await app.register(resilience, { problemDetails: { typeBase: 'https://errors.example.com/' } })
app.get('/boom', async () => { throw new ProblemError({ type: 'validation-failed', detail: 'from the tarball' }) })
const res = await app.inject('/boom')
console.log(JSON.stringify({ status: res.statusCode, type: res.headers['content-type'], body: res.json(), named: typeof problemDetails }))
await app.close()
`

const statusConsumer = `
import Fastify from 'fastify'
import resilience from 'fastify-resilience'
const app = Fastify()
await app.register(resilience, { statusPage: { authorize: () => true } })
const answers = {}
for (const url of ['/resilience', '/resilience/assets/status.js', '/resilience/assets/status.css', '/resilience/assets/uPlot.iife.min.js', '/resilience/assets/uPlot.min.css']) answers[url] = (await app.inject(url)).statusCode
console.log(JSON.stringify(answers))
await app.close()
`

const typedConsumer = `
import Fastify from 'fastify'
import resilience, { problemDetails } from 'fastify-resilience'
import type { ResilienceOptions, ProblemDocument } from 'fastify-resilience'

const options: ResilienceOptions = { problemDetails: { exposeInternalErrors: false } }
const app = Fastify()
await app.register(resilience, options)
await app.register(problemDetails, { notFound: false })
app.get('/', (_request, reply) => reply.problem({ status: 404, detail: 'typed' }))
const status: ProblemDocument['status'] = 404
export { status }
`

// The error classes are typed through @fastify/error's declarations, which
// bundler resolution reads differently from node16: a consumer under either
// must get the classes, not \`any\` and not a missing namespace.
const errorsConsumer = `
import { errors } from 'fastify-resilience'

const error = new errors.FRS_ERR_OPTION_INVALID('timeoutMs', 'a number', 'a string')
const code: 'FRS_ERR_OPTION_INVALID' = error.code
// @ts-expect-error the classes are typed, so an unknown member is refused
error.notAMember()
// @ts-expect-error and so is a missing message argument
void new errors.FRS_ERR_OPTION_INVALID('timeoutMs')
export { code }
`

// Load shedding registers @fastify/under-pressure, whose decorators an app
// gets typed without importing that package itself, from either entry point.
const pressureConsumer = `
import Fastify from 'fastify'
import resilience from 'fastify-resilience'
import { loadShedding } from 'fastify-resilience/load-shedding'

const app = Fastify()
await app.register(resilience)
const usage: { heapUsed: number, rssBytes: number, eventLoopDelay: number, eventLoopUtilized: number } = app.memoryUsage()
const pressed: boolean = app.isUnderPressure()
export { usage, pressed, loadShedding }
`

/** The consumers' tsconfig files: node16 resolution, and bundler resolution as Vite or esbuild users set it. */
const TSCONFIGS = ['tsconfig.json', 'tsconfig.bundler.json']

const brokenConsumer = `
import Fastify from 'fastify'
import resilience from 'fastify-resilience'

const app = Fastify()
await app.register(resilience, { problemDetails: { typeBase: 42 } })
`

// Each step runs npm, node or tsc in a child process: minutes on a busy
// machine, so the timeouts only guard against a hang.
const CHILD_PROCESS_TIMEOUT_MS = 180_000

describe('packed tarball', () => {
  let workdir = ''
  let appDir = ''
  let tarball = ''

  beforeAll(() => {
    workdir = mkdtempSync(join(tmpdir(), 'frs-pack-'))
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', workdir], root)) as Array<{ filename: string, files: Array<{ path: string }> }>
    tarball = join(workdir, packed[0]?.filename ?? '')
    appDir = join(workdir, 'app')
    run('mkdir', ['-p', appDir], workdir)
    writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }))
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `fastify@${fastifyVersion}`], appDir)
    // The probe of bench:imports, which lists the packages an import loads.
    copyFileSync(join(root, 'bench/imports/probe.mjs'), join(appDir, 'probe.mjs'))
    copyFileSync(join(root, 'bench/imports/hooks.mjs'), join(appDir, 'hooks.mjs'))
    writeFileSync(join(appDir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
      },
      files: ['typed.ts'],
    }))
    writeFileSync(join(appDir, 'tsconfig.bundler.json'), JSON.stringify({
      extends: './tsconfig.json',
      compilerOptions: { module: 'ESNext', moduleResolution: 'Bundler' },
    }))
  }, CHILD_PROCESS_TIMEOUT_MS)

  afterAll(() => { rmSync(workdir, { recursive: true, force: true }) })

  it('publint finds nothing to report in the tarball', () => {
    const output = run(join(root, 'node_modules/.bin/publint'), ['run', tarball, '--strict'], workdir)
    expect(output).toContain('All good!')
  }, CHILD_PROCESS_TIMEOUT_MS)

  // ESM only (type: module, `import` conditions, Node >= 20): the profile
  // leaves out require() and node10 resolution, which the package does not offer.
  it('are the types wrong finds every entry point resolving to its types', () => {
    const output = run(join(root, 'node_modules/.bin/attw'), [tarball, '--profile', 'esm-only', '--format', 'json'], workdir)
    // attw exits non-zero on a problem the profile does not ignore; the report lists the ignored ones too.
    const report = JSON.parse(output) as { analysis: { entrypoints: Record<string, unknown> }, problems: Record<string, Array<{ resolutionKind?: string }>> }
    expect(Object.keys(report.analysis.entrypoints).sort()).toEqual(Object.keys(manifest.exports).sort())
    const kinds = new Set(Object.values(report.problems).flat().map((problem) => problem.resolutionKind))
    expect([...kinds].filter((kind) => kind !== 'node10' && kind !== 'node16-cjs')).toEqual([])
  }, CHILD_PROCESS_TIMEOUT_MS)

  it('leaves ioredis out of the install: it is an optional peer', () => {
    expect(() => readFileSync(join(appDir, 'node_modules/ioredis/package.json'))).toThrow()
  })

  it.each(SUBPATHS)('%s imports from the tarball and loads none of the other capabilities\' packages', (specifier) => {
    const output = JSON.parse(run('node', ['probe.mjs', specifier], appDir)) as { modules: number, packages: string[] }
    expect(output.modules).toBeGreaterThan(0)
    expect(output.packages).toContain('fastify-plugin')
    for (const name of NOT_LOADED[specifier] ?? []) expect(output.packages, `${specifier} loaded ${name}`).not.toContain(name)
  }, CHILD_PROCESS_TIMEOUT_MS)

  it.each(TSCONFIGS)('type-checks an import of every subpath without ioredis installed (%s)', (tsconfig) => {
    writeFileSync(join(appDir, 'typed.ts'), SUBPATHS.map((specifier, index) => `import * as entry${index} from '${specifier}'\nexport { entry${index} }\n`).join(''))
    expect(() => run(join(root, 'node_modules/.bin/tsc'), ['-p', tsconfig], appDir)).not.toThrow()
  }, CHILD_PROCESS_TIMEOUT_MS)

  it.each(TSCONFIGS)('types the error classes, with the library\'s declarations checked too (%s)', (tsconfig) => {
    writeFileSync(join(appDir, 'typed.ts'), errorsConsumer)
    expect(() => run(join(root, 'node_modules/.bin/tsc'), ['-p', tsconfig], appDir)).not.toThrow()
  }, CHILD_PROCESS_TIMEOUT_MS)

  it('ships the built entry and declarations, and no sources or tests', () => {
    const installed = join(appDir, 'node_modules/fastify-resilience')
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }
    expect(manifest.exports['.']).toEqual({ types: './dist/plugins/index.d.ts', import: './dist/plugins/index.js' })
    const listing = run('find', ['.', '-type', 'f', '-not', '-path', './node_modules/*'], installed).split('\n').filter(Boolean)
    expect(listing).toContain('./dist/plugins/index.js')
    expect(listing).toContain('./dist/plugins/index.d.ts')
    expect(listing.filter((file) => file.startsWith('./test') || file.startsWith('./src') || file.endsWith('.test.js'))).toEqual([])
  })

  // Sources are not shipped: a stack trace mapped with --enable-source-maps,
  // or a bundler's source-map loader, reads them from the maps themselves.
  it('ships source maps that carry their sources, and no declaration maps that would point at missing files', () => {
    const installed = join(appDir, 'node_modules/fastify-resilience')
    const listing = run('find', ['.', '-type', 'f', '-name', '*.map', '-not', '-path', './node_modules/*'], installed).split('\n').filter(Boolean)
    expect(listing.filter((file) => file.endsWith('.d.ts.map'))).toEqual([])
    const maps = listing.filter((file) => file.endsWith('.js.map'))
    expect(maps).toContain('./dist/plugins/index.js.map')
    for (const file of maps) {
      const map = JSON.parse(readFileSync(join(installed, file), 'utf8')) as { sources: string[], sourcesContent?: Array<string | null> }
      expect(map.sourcesContent?.length, file).toBe(map.sources.length)
      expect(map.sourcesContent?.every((content) => typeof content === 'string' && content.length > 0), file).toBe(true)
    }
  })

  // The README and the pages it links to are read where the package is
  // installed (node_modules, an offline mirror, the registry's file view):
  // each relative link must find its file there.
  it('ships every page the README and the docs link to', () => {
    const installed = join(appDir, 'node_modules/fastify-resilience')
    const pages = ['README.md', ...readdirSync(join(installed, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]
    expect(pages).toContain('docs/configuration.md')
    const missing: string[] = []
    for (const page of pages) {
      for (const [, target] of readFileSync(join(installed, page), 'utf8').matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        if (target === undefined || /^[a-z]+:/.test(target)) continue
        if (!existsSync(join(installed, dirname(page), target))) missing.push(`${page} → ${target}`)
      }
    }
    expect(missing).toEqual([])
  })

  it.each(TSCONFIGS)('types the decorators of @fastify/under-pressure that load shedding registers (%s)', (tsconfig) => {
    writeFileSync(join(appDir, 'typed.ts'), pressureConsumer)
    expect(() => run(join(root, 'node_modules/.bin/tsc'), ['-p', tsconfig], appDir)).not.toThrow()
  }, CHILD_PROCESS_TIMEOUT_MS)

  it('runs from the tarball in a scratch app', () => {
    writeFileSync(join(appDir, 'main.mjs'), consumer)
    const output = JSON.parse(run('node', ['main.mjs'], appDir)) as { status: number, type: string, body: Record<string, unknown>, named: string }
    expect(output).toEqual({
      status: 400,
      type: 'application/problem+json; charset=utf-8',
      body: { type: 'https://errors.example.com/validation-failed', title: 'Request validation failed', status: 400, detail: 'from the tarball', instance: 'req-1' },
      named: 'function',
    })
  }, CHILD_PROCESS_TIMEOUT_MS)

  it('serves the status page and its assets (its own and uPlot) from the installed package', () => {
    writeFileSync(join(appDir, 'status.mjs'), statusConsumer)
    const output = JSON.parse(run('node', ['status.mjs'], appDir)) as Record<string, number>
    expect(output).toEqual({
      '/resilience': 200,
      '/resilience/assets/status.js': 200,
      '/resilience/assets/status.css': 200,
      '/resilience/assets/uPlot.iife.min.js': 200,
      '/resilience/assets/uPlot.min.css': 200,
    })
  }, CHILD_PROCESS_TIMEOUT_MS)

  it('type-checks an import of the default and named exports', () => {
    writeFileSync(join(appDir, 'typed.ts'), typedConsumer)
    expect(() => run(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], appDir)).not.toThrow()
  }, CHILD_PROCESS_TIMEOUT_MS)

  it('the shipped types refuse a wrong option', () => {
    writeFileSync(join(appDir, 'typed.ts'), brokenConsumer)
    let output = ''
    try {
      run(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], appDir)
    } catch (error) {
      output = String((error as { stdout?: string }).stdout)
    }
    // line 6 is the register call with the numeric typeBase
    expect(output).toMatch(/typed\.ts\(6,\d+\): error TS2769/)
  }, CHILD_PROCESS_TIMEOUT_MS)
})
