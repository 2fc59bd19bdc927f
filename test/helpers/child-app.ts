import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export interface ChildApp {
  port: number
  /** The line the app printed when it started, its port first. */
  started: string
  child: ChildProcess
  kill: (signal?: NodeJS.Signals) => Promise<void>
}

const FIXTURE = fileURLToPath(new URL('../fixtures/idempotent-app.ts', import.meta.url))

/** Starts a test app (the idempotent one unless `fixture` names another) in a separate Node process. */
export async function startChildApp (env: Record<string, string>, fixture = FIXTURE): Promise<ChildApp> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const [chunk] = await once(child.stdout, 'data') as [Buffer]
  const port = Number.parseInt(chunk.toString(), 10)
  if (!Number.isInteger(port)) throw new TypeError(`the child app printed no port: ${chunk.toString()}`)
  return {
    port,
    started: chunk.toString().trim(),
    child,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill(signal)
      await exited
    },
  }
}

/** Runs `fixture` in a Node process of its own until it exits by itself; answers what it printed and its exit code (its stderr is shown when that is not 0). */
export async function runToExit (fixture: string, env: Record<string, string>): Promise<{ stdout: string, code: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const [code] = await once(child, 'exit') as [number | null]
  if (code !== 0) console.error(stderr)
  return { stdout: stdout.trim(), code }
}
