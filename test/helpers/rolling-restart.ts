import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'
import { startChildApp } from './child-app.js'
import type { ChildApp } from './child-app.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/health-app.ts', import.meta.url))

export interface RollingRestartOptions {
  /** Concurrent clients sending requests back to back. */
  workers: number
  /** Time under load before, between and after the restarts, in milliseconds. */
  steadyMs: number
  /** The instances' shutdown grace period, in milliseconds. */
  graceMs: number
  /** How long each request takes in the handler, in milliseconds. */
  workMs: number
  /** How often the client probes each instance's readiness, in milliseconds. */
  probeMs: number
}

export interface RollingRestartResult {
  /** Answered 200. */
  succeeded: number
  /** Admitted (sent on an open connection, not refused as shutting down) and then failed. */
  failedAdmitted: number
  /** Connections reset under a request (ECONNRESET, or closed by the other side mid-request). */
  resets: number
  /** Not admitted: 503 with Connection: close; the client moves to the other instance. */
  redirected: number
  /** Not admitted: connection refused, the listener was closed while the client still thought the instance ready. */
  refused: number
  /** Exit codes of the instances that were restarted. */
  exitCodes: Array<number | null>
  /** Examples of the failures, for a readable assertion message. */
  failures: string[]
}

interface Slot {
  instance: ChildApp
  ready: boolean
}

const NOT_ADMITTED_CODES = new Set(['ECONNREFUSED'])
const RESET_CODES = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'])

function errorCode (error: unknown): string {
  const { code, cause } = error as { code?: unknown, cause?: { code?: unknown } }
  return String(code ?? cause?.code ?? (error instanceof Error ? error.message : error))
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Two instances of the health fixture behind client-side round-robin that
 * skips an instance whose readiness fails or that refused a request (503
 * with Connection: close, or connection refused). Under steady load, each
 * instance in turn gets SIGTERM and is replaced by a new one.
 */
export async function rollingRestart (options: RollingRestartOptions): Promise<RollingRestartResult> {
  const env = { GRACE_MS: String(options.graceMs), WORK_MS: String(options.workMs) }
  const start = async (): Promise<ChildApp> => await startChildApp(env, FIXTURE)
  const slots: Slot[] = (await Promise.all([start(), start()])).map((instance) => ({ instance, ready: false }))
  const agent = new Agent({ keepAliveTimeout: 10_000 })
  const probes = new Agent({ pipelining: 0 })
  const result: RollingRestartResult = { succeeded: 0, failedAdmitted: 0, resets: 0, redirected: 0, refused: 0, exitCodes: [], failures: [] }
  const state = { running: true }

  const probeLoop = async (): Promise<void> => {
    while (state.running) {
      await Promise.all(slots.map(async (slot) => {
        const { instance } = slot
        let ready = false
        try {
          const response = await request(`http://127.0.0.1:${instance.port}/health/ready`, { dispatcher: probes, headers: { connection: 'close' } })
          await response.body.dump()
          ready = response.statusCode === 200
        } catch {}
        // The slot may hold a new instance by now: the answer was about the old one.
        if (slot.instance === instance) slot.ready = ready
      }))
      await sleep(options.probeMs)
    }
  }

  let turn = 0
  const worker = async (): Promise<void> => {
    while (state.running) {
      const ready = slots.filter((slot) => slot.ready)
      const slot = ready[turn++ % Math.max(1, ready.length)]
      if (slot === undefined) {
        await sleep(5)
        continue
      }
      try {
        const response = await request(`http://127.0.0.1:${slot.instance.port}/work`, { dispatcher: agent })
        const body = await response.body.text()
        if (response.statusCode === 200) result.succeeded++
        else if (response.statusCode === 503 && response.headers.connection === 'close') {
          result.redirected++
          slot.ready = false
        } else {
          result.failedAdmitted++
          if (result.failures.length < 5) result.failures.push(`${response.statusCode} ${body}`)
        }
      } catch (error) {
        const code = errorCode(error)
        if (NOT_ADMITTED_CODES.has(code)) {
          result.refused++
          slot.ready = false
          continue
        }
        result.failedAdmitted++
        if (RESET_CODES.has(code)) result.resets++
        if (result.failures.length < 5) result.failures.push(code)
      }
    }
  }

  const probing = probeLoop()
  try {
    const readyBoth = async (): Promise<void> => {
      while (!slots.every((slot) => slot.ready)) await sleep(10)
    }
    await readyBoth()
    const workers = Array.from({ length: options.workers }, worker)
    await sleep(options.steadyMs)
    for (const slot of slots) {
      const old = slot.instance
      await old.kill('SIGTERM')
      result.exitCodes.push(old.child.exitCode)
      slot.ready = false
      slot.instance = await start()
      await readyBoth()
      await sleep(options.steadyMs)
    }
    state.running = false
    await Promise.all(workers)
  } finally {
    state.running = false
    await probing
    await Promise.all(slots.map(async (slot) => { await slot.instance.kill('SIGKILL') }))
    await agent.close()
    await probes.close()
  }
  return result
}
