import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runToExit } from '../helpers/child-app.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/inject-waits-app.ts', import.meta.url))

describe("the library's timers a request waits on keep the process alive", () => {
  // Unref'd, these timers let a process whose event loop held nothing else
  // (app.inject in a test or a script) end before the 504 or the 503 it
  // waited for: exit code 13, for an unsettled top-level await, and no answer.
  it.each([
    ['deadline', '504'],
    ['caller-budget', '504'],
    ['queue', '200 503'],
  ] as const)('a request waiting on its %s under app.inject is answered, leaves no timer armed, and the process exits 0', async (mode, statuses) => {
    expect(await runToExit(FIXTURE, { MODE: mode })).toEqual({ stdout: `${statuses}, timers left: 0`, code: 0 })
  })
})
