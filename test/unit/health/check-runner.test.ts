import { afterEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { CheckRunner, overallStatus, failingChecks } from '../../../src/health/index.js'
import type { HealthCheckEntry, ResolvedHealthCheck } from '../../../src/health/index.js'
import { ManualClock } from '../../helpers/manual-clock.js'
import { deferred } from '../../helpers/deferred.js'
import { waitFor } from '../../helpers/wait-for.js'

const runners: CheckRunner[] = []
afterEach(() => {
  for (const runner of runners.splice(0)) runner.stop()
})

function checkOf (overrides: Partial<ResolvedHealthCheck> & Pick<ResolvedHealthCheck, 'check'>): ResolvedHealthCheck {
  return { name: 'db', timeoutMs: 1000, intervalMs: 60_000, required: true, refuseTraffic: false, componentType: undefined, ...overrides }
}

function runnerOf (...checks: ResolvedHealthCheck[]): CheckRunner {
  const runner = new CheckRunner(checks, new ManualClock())
  runners.push(runner)
  return runner
}

describe('CheckRunner', () => {
  it('keeps each check\'s result between runs and runs it again on its interval', async () => {
    let runs = 0
    const runner = runnerOf(checkOf({ check: () => { runs++; return runs === 1 }, intervalMs: 10 }))
    await runner.start()
    expect(runner.result('db')?.status).toBe('pass')
    for (let read = 0; read < 100; read++) runner.result('db')
    await waitFor(() => runner.result('db')?.status === 'fail')
    expect(runner.result('db')?.output).toBe('the check returned false')
  })

  it('a check that throws synchronously fails with its message', async () => {
    const runner = runnerOf(checkOf({ check: () => { throw new Error('no route to host') } }))
    await runner.start()
    expect(runner.result('db')).toMatchObject({ status: 'fail', output: 'no route to host' })
  })

  it('a check that rejects with a non-error fails with a description of it', async () => {
    // eslint-disable-next-line prefer-promise-reject-errors -- a user's check may reject with anything
    const runner = runnerOf(checkOf({ check: async () => await Promise.reject('down') }))
    await runner.start()
    expect(runner.result('db')).toMatchObject({ status: 'fail' })
    expect(runner.result('db')?.output).toMatch(/down/)
  })

  it('a check past its timeout fails and its signal aborts; a late settlement changes nothing', async () => {
    const late = deferred<boolean>()
    let signal: AbortSignal | undefined
    const runner = runnerOf(checkOf({ timeoutMs: 20, check: async (given) => { signal = given; return await late.promise } }))
    await runner.start()
    expect(runner.result('db')).toMatchObject({ status: 'fail', output: 'the check did not settle within 20 ms' })
    expect(signal?.aborted).toBe(true)
    late.resolve(true)
    await new Promise((resolve) => setImmediate(resolve))
    expect(runner.result('db')?.status).toBe('fail')
  })

  it('a check whose call has not settled past its timeout is not called again until it does, and fails meanwhile', async () => {
    const hung = deferred<boolean>()
    let calls = 0
    const runner = runnerOf(checkOf({ timeoutMs: 5, intervalMs: 5, check: async () => { calls++; return calls === 1 ? await hung.promise : true } }))
    await runner.start()
    expect(runner.result('db')).toMatchObject({ status: 'fail', output: 'the check did not settle within 5 ms' })
    // Several intervals pass with the first call still hanging.
    await waitFor(() => runner.result('db')?.output?.startsWith('the check has not settled after') === true)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(calls).toBe(1)
    expect(runner.runs.get('db')).toBe(1)
    expect(runner.result('db')?.status).toBe('fail')
    hung.resolve(false)
    await waitFor(() => runner.result('db')?.status === 'pass')
    expect(calls).toBe(2)
  })

  it('a check that is not required warns instead of failing', async () => {
    const runner = runnerOf(checkOf({ required: false, check: () => false }))
    await runner.start()
    expect(runner.result('db')?.status).toBe('warn')
  })

  it('keeps the known members of a resolved object, nothing else', async () => {
    const runner = runnerOf(checkOf({ componentType: 'datastore', check: () => ({ observedValue: 12, observedUnit: 'ms', output: 'slow-ish', secret: 'x' }) }))
    await runner.start()
    const result = runner.result('db')
    expect(result).toMatchObject({ status: 'pass', componentType: 'datastore', observedValue: 12, observedUnit: 'ms', output: 'slow-ish' })
    expect(result).not.toHaveProperty('secret')
  })

  it('stops: no run after stop()', async () => {
    let runs = 0
    const runner = runnerOf(checkOf({ check: () => { runs++; return true }, intervalMs: 5 }))
    await runner.start()
    runner.stop()
    const after = runs
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(runs).toBe(after)
  })
})

describe('health documents', () => {
  const status = fc.constantFrom('pass' as const, 'warn' as const, 'fail' as const)
  it('the overall status is the worst of the checks', () => {
    fc.assert(fc.property(fc.dictionary(fc.string(), fc.array(status.map((value): HealthCheckEntry => ({ status: value })), { minLength: 1, maxLength: 3 })), (checks) => {
      const all = Object.values(checks).flat().map((entry) => entry.status)
      const expected = all.includes('fail') ? 'fail' : all.includes('warn') ? 'warn' : 'pass'
      expect(overallStatus(checks)).toBe(expected)
      expect(failingChecks(checks).length > 0).toBe(expected === 'fail')
    }))
  })
})
