import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { afterAll, describe, expect, test } from 'vitest'
import { ROOT, codeBlocks, markdownFiles, readRepoFile } from '../helpers/markdown.js'
import type { CodeBlock } from '../helpers/markdown.js'
import { preambleFor } from './preamble.js'

const MARKERS = new Set(['with-app'])
const TS_LANGS = new Set(['ts', 'typescript'])

// Inside the repository's node_modules, so that the blocks' imports of
// fastify, ioredis, got… resolve as they would in an application.
const cacheDir = join(ROOT, 'node_modules', '.cache')
mkdirSync(cacheDir, { recursive: true })
const dir = mkdtempSync(join(cacheDir, 'doc-blocks-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

interface Compiled { block: CodeBlock, path: string, offset: number }

function tsBlocks (): CodeBlock[] {
  return markdownFiles().flatMap((file) => codeBlocks(file, readRepoFile(file))).filter((block) => TS_LANGS.has(block.lang))
}

interface ExportTarget { import?: string }

/** Each entry of package.json's `exports`, pointed at the source file it is built from (dist/x.js ← x.ts). */
function packagePaths (): Record<string, string[]> {
  const pkg = JSON.parse(readRepoFile('package.json')) as { name: string, exports: Record<string, ExportTarget | string> }
  const paths: Record<string, string[]> = {}
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const built = typeof target === 'string' ? target : target.import
    if (built === undefined || !built.endsWith('.js')) continue
    const source = built.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts')
    paths[subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`] = [join(ROOT, source)]
  }
  return paths
}

function compilerOptions (): ts.CompilerOptions {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path))
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT)
  return {
    ...parsed.options,
    noEmit: true,
    // A snippet shows a call, not a whole program: what it declares and does not use is fine.
    noUnusedLocals: false,
    noUnusedParameters: false,
    // Top-level await in a snippet without imports.
    moduleDetection: ts.ModuleDetectionKind.Force,
    // The package as its users import it, from its sources.
    paths: packagePaths(),
  }
}

function compile (blocks: CodeBlock[]): { compiled: Compiled[], diagnostics: readonly ts.Diagnostic[] } {
  const compiled = blocks.map((block) => {
    const name = `${block.file.replace(/[^\w]/g, '_')}_L${block.line}.ts`
    const preamble = block.check === 'with-app' ? preambleFor(block.code) : ''
    const path = join(dir, name)
    writeFileSync(path, preamble + block.code + '\n')
    return { block, path, offset: preamble === '' ? 0 : preamble.split('\n').length - 1 }
  })
  const program = ts.createProgram(compiled.map((entry) => entry.path), compilerOptions())
  return { compiled, diagnostics: ts.getPreEmitDiagnostics(program) }
}

function where (diagnostic: ts.Diagnostic, compiled: Compiled[]): string {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
  const file = diagnostic.file
  if (file === undefined || diagnostic.start === undefined) return message
  const entry = compiled.find((candidate) => candidate.path === file.fileName)
  const { line } = file.getLineAndCharacterOfPosition(diagnostic.start)
  if (entry === undefined) return `${file.fileName}:${line + 1}: ${message}`
  return `${entry.block.file}:${entry.block.line + line - entry.offset}: ${message}`
}

describe('documentation code blocks', () => {
  const blocks = tsBlocks()

  test('the docs have TypeScript blocks to check, each marker is known', () => {
    expect(blocks.length).toBeGreaterThan(10)
    const unknown = blocks.filter((block) => block.check !== undefined && !MARKERS.has(block.check))
    expect(unknown.map((block) => `${block.file}:${block.line} ${block.check ?? ''}`)).toEqual([])
  })

  test('every TypeScript block of the README and docs compiles against the package', () => {
    const { compiled, diagnostics } = compile(blocks)
    expect(diagnostics.map((diagnostic) => where(diagnostic, compiled))).toEqual([])
  }, 120_000)

  test('the package name resolves to its sources through package.json exports', () => {
    expect(packagePaths()['fastify-resilience']).toEqual([join(ROOT, 'plugins', 'index.ts')])
  })

  test('a block that misuses the API fails the check', () => {
    const wrong: CodeBlock = {
      file: 'docs/example.md',
      line: 1,
      lang: 'ts',
      check: 'with-app',
      code: "await app.register(resilience, { deadlines: { defaultTimeoutMs: 'soon' } })",
    }
    const { compiled, diagnostics } = compile([wrong])
    const found = diagnostics.map((diagnostic) => where(diagnostic, compiled))
    expect(found).toHaveLength(1)
    expect(found[0]).toMatch(/^docs\/example\.md:1: /)
    expect(found[0]).toContain("Type 'string' is not assignable to type 'number'")
  }, 120_000)
})
