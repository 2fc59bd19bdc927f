import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const FIXTURE = fileURLToPath(new URL('../fixtures/inject-waits-app.ts', import.meta.url))

/** Runs the fixture and answers what it printed and how it exited. */
async function runChild (mode: string): Promise<{ stdout: string, code: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { env: { ...process.env, MODE: mode }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const [code] = await once(child, 'exit') as [number | null]
  if (code !== 0) console.error(stderr)
  return { stdout: stdout.trim(), code }
}

describe("the library's timers a request waits on keep the process alive", () => {
  // Unref'd, these timers let a process whose event loop held nothing else
  // (app.inject in a test or a script) end before the 504 or the 503 it
  // waited for: exit code 13, for an unsettled top-level await, and no answer.
  it.each([
    ['deadline', '504'],
    ['caller-budget', '504'],
    ['queue', '200 503'],
  ] as const)('a request waiting on its %s under app.inject is answered, leaves no timer armed, and the process exits 0', async (mode, statuses) => {
    expect(await runChild(mode)).toEqual({ stdout: `${statuses}, timers left: 0`, code: 0 })
  })
})
