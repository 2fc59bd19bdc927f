import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { failing, hanging, startDependency } from './helpers.js'
import type { Behaviour } from './helpers.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/dependency-inject-app.ts', import.meta.url))

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs the fixture against a real upstream and answers what it printed and how it exited. */
async function runChild (mode: string, behaviour: Behaviour): Promise<{ stdout: string, code: number | null, upstreamCalls: number }> {
  const upstream = await startDependency(behaviour)
  cleanups.push(upstream.close)
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { env: { ...process.env, UPSTREAM: upstream.url, MODE: mode }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const [code] = await once(child, 'exit') as [number | null]
  if (code !== 0) console.error(stderr)
  return { stdout, code, upstreamCalls: upstream.seen.length }
}

describe('dependencies: the timers a request waits on keep the process alive', () => {
  // Unref'd, these timers let a process whose event loop held nothing else
  // (app.inject in a test or a script) end mid-request: exit code 13, for
  // an unsettled top-level await, and no answer.
  it.each([
    ['backoff', failing(500), '502', 2],
    ['retry-after', failing(503, { 'retry-after': '1' }), '502', 2],
    ['timeout', hanging, '504', 0],
    // Sent before the hedge is due, the first attempt's failure must clear its timer.
    ['hedge', failing(500), '502', 1],
  ] as const)('a call waiting on its %s under app.inject answers, leaves no timer armed, and the process exits 0', async (mode, behaviour, status, calls) => {
    const { stdout, code, upstreamCalls } = await runChild(mode, behaviour)
    expect({ stdout: stdout.trim(), code, upstreamCalls }).toEqual({ stdout: `${status}, timers left: 0`, code: 0, upstreamCalls: calls })
  })
})
