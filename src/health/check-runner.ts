import type { Clock } from '../clock.js'
import { describeValue } from '../describe.js'

/** One custom readiness check, e.g. a database or Redis ping. */
export interface HealthCheck {
  /**
   * Resolves when the component is healthy; throws, rejects or resolves to
   * `false` when it is not. A resolved object is shown to authorised callers
   * (`observedValue`, `observedUnit`, `output` and `componentType` members are
   * used as such in the health document). The signal aborts at the timeout.
   */
  check: (signal: AbortSignal) => unknown
  /** The check fails when it has not settled by then, in milliseconds. @default 1000 */
  timeoutMs?: number
  /** How often the check runs, off the request path, in milliseconds; probes read the last result. @default 5000 */
  intervalMs?: number
  /** A failing check fails readiness; `false` only reports it (status `warn`). @default true */
  required?: boolean
  /**
   * While the check fails, every request other than the library's own routes
   * gets a 503 `not-ready` problem (what @fastify/under-pressure did while its
   * `healthCheck` failed). @default false
   */
  refuseTraffic?: boolean
  /** The `componentType` of the health document (`datastore`, `component`, `system`). */
  componentType?: string
}

export type CheckStatus = 'pass' | 'warn' | 'fail'

/** The last result of a check, as probes read it. */
export interface CheckResult {
  status: CheckStatus
  /** Wall-clock time of the result, ISO 8601. */
  time: string
  /** How long the check took, in milliseconds. */
  durationMs: number
  output?: string
  observedValue?: unknown
  observedUnit?: string
  componentType?: string
}

export interface ResolvedHealthCheck {
  name: string
  check: (signal: AbortSignal) => unknown
  timeoutMs: number
  intervalMs: number
  required: boolean
  refuseTraffic: boolean
  componentType: string | undefined
}

/**
 * Runs each check on its own interval and keeps its last result, so that a
 * probe reads a cached answer: a storm of probes never reaches the
 * database. A check that is still running is never started twice.
 */
export class CheckRunner {
  readonly #checks: readonly ResolvedHealthCheck[]
  readonly #results = new Map<string, CheckResult>()
  readonly #timers = new Map<string, NodeJS.Timeout>()
  /** The calls that have not settled yet, past their timeout included, by check. */
  readonly #unsettled = new Map<string, { startedAt: number }>()
  readonly #clock: Clock
  #stopped = false
  /** How many times each check has been started; read by tests and stats. */
  readonly runs = new Map<string, number>()

  constructor (checks: readonly ResolvedHealthCheck[], clock: Clock) {
    this.#checks = checks
    this.#clock = clock
  }

  get checks (): readonly ResolvedHealthCheck[] {
    return this.#checks
  }

  /** Runs every check once and then on its interval; resolves after the first round. */
  async start (): Promise<void> {
    await Promise.all(this.#checks.map(async (check) => await this.#runAndSchedule(check)))
  }

  stop (): void {
    this.#stopped = true
    for (const timer of this.#timers.values()) clearTimeout(timer)
    this.#timers.clear()
  }

  result (name: string): CheckResult | undefined {
    return this.#results.get(name)
  }

  async #runAndSchedule (check: ResolvedHealthCheck): Promise<void> {
    if (this.#stopped) return
    this.#results.set(check.name, await this.run(check))
    if (this.#stopped) return
    const timer = setTimeout(() => { this.#runAndSchedule(check).catch(() => {}) }, check.intervalMs)
    timer.unref()
    this.#timers.set(check.name, timer)
  }

  /**
   * Runs one check under its timeout; never rejects. A check whose last
   * call has not settled, even past its timeout (a ping stuck on a dead
   * socket that ignores its signal), is not called again until it does:
   * calls would pile up, one more every interval. It fails meanwhile.
   */
  async run (check: ResolvedHealthCheck): Promise<CheckResult> {
    const failed = check.required ? 'fail' : 'warn'
    const unsettled = this.#unsettled.get(check.name)
    if (unsettled !== undefined) {
      const runningMs = Math.round(this.#clock.now() - unsettled.startedAt)
      return { status: failed, time: new Date().toISOString(), durationMs: runningMs, output: `the check has not settled after ${runningMs} ms; it is not started again until it does`, ...(check.componentType === undefined ? {} : { componentType: check.componentType }) }
    }
    this.runs.set(check.name, (this.runs.get(check.name) ?? 0) + 1)
    const startedAt = this.#clock.now()
    const call = { startedAt }
    this.#unsettled.set(check.name, call)
    const controller = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => {
        controller.abort()
        resolve(TIMED_OUT)
      }, check.timeoutMs)
      timer.unref()
    })
    const base = (): { time: string, durationMs: number, componentType?: string } => ({
      time: new Date().toISOString(),
      durationMs: Math.round(this.#clock.now() - startedAt),
      ...(check.componentType === undefined ? {} : { componentType: check.componentType }),
    })
    const settling = Promise.resolve().then(() => check.check(controller.signal))
    const settled = (): void => { if (this.#unsettled.get(check.name) === call) this.#unsettled.delete(check.name) }
    settling.then(settled, settled)
    try {
      const value: unknown = await Promise.race([settling, timedOut])
      if (value === TIMED_OUT) return { status: failed, ...base(), output: `the check did not settle within ${check.timeoutMs} ms` }
      if (value === false) return { status: failed, ...base(), output: 'the check returned false' }
      return { status: 'pass', ...base(), ...observed(value) }
    } catch (error) {
      return { status: failed, ...base(), output: errorOutput(error) }
    } finally {
      clearTimeout(timer)
    }
  }
}

const TIMED_OUT = Symbol('timed out')

function errorOutput (error: unknown): string {
  return error instanceof Error ? error.message : describeValue(error)
}

/** The members of a resolved object that the health document knows. */
function observed (value: unknown): Partial<CheckResult> {
  if (typeof value !== 'object' || value === null) return {}
  const source = value as Record<string, unknown>
  const result: Partial<CheckResult> = {}
  if ('observedValue' in source) result.observedValue = source.observedValue
  if (typeof source.observedUnit === 'string') result.observedUnit = source.observedUnit
  if (typeof source.output === 'string') result.output = source.output
  if (typeof source.componentType === 'string') result.componentType = source.componentType
  return result
}
