import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { runToExit } from '../helpers/child-app.js'
import { failing, hanging, startDependency } from './helpers.js'
import type { Behaviour } from './helpers.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/dependency-inject-app.ts', import.meta.url))

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs the fixture against a real upstream and answers what it printed, how it exited and the calls the upstream saw. */
async function runChild (mode: string, behaviour: Behaviour): Promise<{ stdout: string, code: number | null, upstreamCalls: number }> {
  const upstream = await startDependency(behaviour)
  cleanups.push(upstream.close)
  const { stdout, code } = await runToExit(FIXTURE, { UPSTREAM: upstream.url, MODE: mode })
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
    expect({ stdout, code, upstreamCalls }).toEqual({ stdout: `${status}, timers left: 0`, code: 0, upstreamCalls: calls })
  })
})
