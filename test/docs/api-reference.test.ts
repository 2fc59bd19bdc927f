import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'
import { ROOT } from '../helpers/markdown.js'

const run = promisify(execFile)
const TYPEDOC = join(ROOT, 'node_modules', '.bin', 'typedoc')

interface Outcome { code: number, output: string }

// The check of `npm run docs` (typedoc.json), without writing the pages.
async function typedoc (args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(TYPEDOC, ['--options', join(ROOT, 'typedoc.json'), '--emit', 'none', ...args], { cwd: ROOT, timeout: 180_000 })
    return { code: 0, output: stdout + stderr }
  } catch (error) {
    const failed = error as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` }
  }
}

// Not under node_modules, where TypeDoc finds no entry point; scratch/ is
// ignored by git, tsc and ESLint.
const scratch = join(ROOT, 'scratch')
mkdirSync(scratch, { recursive: true })
const dir = mkdtempSync(join(scratch, 'api-reference-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('API reference', () => {
  test('every public export of the package has a doc comment, so the reference builds', async () => {
    const { code, output } = await typedoc(['--tsconfig', join(ROOT, 'tsconfig.build.json')])
    expect(output).not.toMatch(/does not have any documentation/)
    expect(code).toBe(0)
  }, 200_000)

  test('a public export without a doc comment fails the build', async () => {
    writeFileSync(join(dir, 'entry.ts'), '/** Documented. */\nexport const documented = 1\nexport function undocumented (): number { return 2 }\n')
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), include: [], files: ['entry.ts'] }))
    const { code, output } = await typedoc(['--tsconfig', join(dir, 'tsconfig.json'), '--entryPoints', join(dir, 'entry.ts')])
    expect(output).toMatch(/undocumented.*does not have any documentation/)
    expect(output).not.toMatch(/documented \(Variable\).*does not have any documentation/)
    expect(code).not.toBe(0)
  }, 200_000)
})
