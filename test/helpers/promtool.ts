import { spawn } from 'node:child_process'
import { expect } from 'vitest'

export interface PromtoolResult {
  code: number
  output: string
}

const MISSING = 'promtool is not installed: these tests check the generated rules and metrics with it. Install Debian\'s prometheus package (`sudo apt-get install prometheus`, as .ci/run does) or put a promtool binary on PATH.'

/**
 * Runs the real promtool with `args`, `input` on its standard input;
 * resolves with its exit code and everything it printed. Rejects (failing
 * the test, never skipping it) when promtool is missing.
 */
export async function promtool (args: readonly string[], input = ''): Promise<PromtoolResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new Error(MISSING) : error)
    })
    child.on('close', (code) => { resolve({ code: code ?? -1, output }) })
    child.stdin.on('error', () => {})
    child.stdin.end(input)
  })
}

/** Fails the test unless `promtool check metrics` finds the exposition clean: nothing printed, exit 0. */
export async function expectMetricsClean (exposition: string): Promise<void> {
  const result = await promtool(['check', 'metrics'], exposition)
  expect(result.output).toBe('')
  expect(result.code).toBe(0)
}
