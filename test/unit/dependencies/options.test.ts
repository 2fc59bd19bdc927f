import { describe, expect, it } from 'vitest'
import { resolveDependenciesOptions } from '../../../src/dependencies/index.js'

const resolve = (options: unknown): unknown => resolveDependenciesOptions(options)

describe('dependencies options', () => {
  it('fills defaults: a rate breaker, no retries, no bulkhead', () => {
    const [payments] = resolveDependenciesOptions({ payments: { baseUrl: 'http://payments.internal' } })
    expect(payments).toMatchObject({
      name: 'payments',
      timeoutMs: 1000,
      breaker: { trip: { kind: 'rate', failureRate: 0.5, minimumCalls: 20 }, windowMs: 10_000, openMs: 5000, maxOpenMs: 60_000, probes: 1 },
      retry: { attempts: 1, budget: { ratio: 0.1, minPerSecond: 5 } },
      bulkhead: undefined,
      fallback: undefined,
      coalesce: undefined,
      hedge: undefined,
    })
    expect(payments?.baseUrl?.href).toBe('http://payments.internal/')
  })

  it('reads the consecutive-failures breaker and retries with their defaults', () => {
    const [ledger] = resolveDependenciesOptions({ ledger: { breaker: { consecutiveFailures: 3 }, retry: {} } })
    expect(ledger?.breaker?.trip).toEqual({ kind: 'consecutive', failures: 3 })
    expect(ledger?.retry.attempts).toBe(3)
  })

  it.each([
    [{ payments: { idempotencyKeys: { header: 'bad header' } } }, "option 'dependencies.payments.idempotencyKeys.header'"],
    [{ payments: { idempotencyKeys: { header: '' } } }, "option 'dependencies.payments.idempotencyKeys.header'"],
    [{ payments: { baseUrl: 'ftp://files.internal/' } }, "option 'dependencies.payments.baseUrl'"],
    [{ payments: { baseUrl: 'file:///etc/passwd' } }, "option 'dependencies.payments.baseUrl'"],
    [{ payments: { baseUrl: 'javascript:alert(1)' } }, "option 'dependencies.payments.baseUrl'"],
    [{ payments: { baseUrl: 'http://user:secret@payments.internal/' } }, "option 'dependencies.payments.baseUrl'"],
    [{ payments: { credentialHeaders: ['bad header'] } }, "option 'dependencies.payments.credentialHeaders'"],
    [{ payments: { maxBodyBytes: -1 } }, "option 'dependencies.payments.maxBodyBytes'"],
    [{ payments: { retry: { maxDelayMs: -1 } } }, "option 'dependencies.payments.retry.maxDelayMs'"],
    [{ payments: { timeoutMs: 0 } }, "option 'dependencies.payments.timeoutMs'"],
    [{ payments: { timeoutMs: '800' } }, "option 'dependencies.payments.timeoutMs'"],
    [{ payments: { baseUrl: 'payments.internal' } }, "option 'dependencies.payments.baseUrl' expects an absolute URL"],
    [{ payments: { breaker: { failureRate: 1.5 } } }, "option 'dependencies.payments.breaker.failureRate'"],
    [{ payments: { breaker: { failureRate: 0 } } }, "option 'dependencies.payments.breaker.failureRate'"],
    [{ payments: { breaker: { minimumCalls: -1 } } }, "option 'dependencies.payments.breaker.minimumCalls'"],
    [{ payments: { breaker: { consecutiveFailures: 3, minimumCalls: 5 } } }, "option 'dependencies.payments.breaker' expects either consecutiveFailures or failureRate with minimumCalls (two modes of the breaker), not both"],
    [{ payments: { breaker: { consecutiveFailures: 3, failureRate: 0.5 } } }, "option 'dependencies.payments.breaker' expects either consecutiveFailures or failureRate"],
    [{ payments: { breaker: { consecutiveFailures: 3, failures: 5 } } }, "unknown option 'failures' in dependencies.payments.breaker"],
    [{ payments: { breaker: { openMs: 100, maxOpenMs: 50 } } }, "option 'dependencies.payments.breaker.maxOpenMs'"],
    [{ payments: { retry: { attempts: 0 } } }, "option 'dependencies.payments.retry.attempts'"],
    [{ payments: { retry: { budget: { ratio: -1 } } } }, "option 'dependencies.payments.retry.budget.ratio'"],
    [{ payments: { retry: { backoff: { jitter: 'none' } } } }, "option 'dependencies.payments.retry.backoff.jitter'"],
    [{ payments: { bulkhead: { maxQueue: 5 } } }, "option 'dependencies.payments.bulkhead.maxConcurrent'"],
    [{ payments: { fallback: 'stale' } }, "option 'dependencies.payments.fallback'"],
    [{ payments: { fallback: { lastGood: { maxAgeMs: -1 } } } }, "option 'dependencies.payments.fallback.lastGood.maxAgeMs'"],
    [{ payments: { hedge: { percentile: 2 } } }, "option 'dependencies.payments.hedge.percentile'"],
    [{ payments: { fleet: { client: {} } } }, "option 'dependencies.payments.fleet.client' expects an ioredis client"],
    [{ payments: { timeout: 800 } }, "unknown option 'timeout' in dependencies.payments"],
    [{ payments: { degradedHeader: 'bad header' } }, "option 'dependencies.payments.degradedHeader'"],
    [{ payments: { degradedHeader: 'Content-Type' } }, "option 'dependencies.payments.degradedHeader' expects a header name of its own"],
    [{ payments: { degradedHeader: 'retry-after' } }, "option 'dependencies.payments.degradedHeader' expects a header name of its own"],
    [{ payments: { degradedHeader: 'Set-Cookie' } }, "option 'dependencies.payments.degradedHeader' expects a header name of its own"],
    [{ payments: { fallback: { lastGood: { maxAgeMs: 0 } } } }, "option 'dependencies.payments.fallback.lastGood.maxAgeMs'"],
    [{ payments: { baseUrl: 'http://payments.internal/api?api_key=secret' } }, "option 'dependencies.payments.baseUrl' expects a URL without a query string or fragment"],
    [{ payments: { baseUrl: 'http://payments.internal/api#v2' } }, "option 'dependencies.payments.baseUrl' expects a URL without a query string or fragment"],
    [{ 'bad name': {} }, "option 'dependencies' expects dependency names"],
    [{ payments: 5 }, "option 'dependencies.payments' expects an object"],
  ])('refuses %j naming the option', (options, message) => {
    expect(() => resolve(options)).toThrow(message)
  })

  it.each([
    [{ lastgood: { maxAgeMs: 1000 } }, "unknown option 'lastgood' in dependencies.payments.fallback; expected one of: lastGood, value"],
    [{ value: 0, maxAgeMs: 1000 }, "unknown option 'maxAgeMs' in dependencies.payments.fallback; expected one of: lastGood, value"],
  ])('refuses a fallback object with a key of no form, %j, as an unknown option', (fallback, message) => {
    expect(() => resolve({ payments: { fallback } })).toThrow(expect.objectContaining({ code: 'FRS_ERR_OPTION_UNKNOWN', message: `fastify-resilience: ${message}` }))
  })

  it('refuses a fallback object of both forms, or of none, naming the forms', () => {
    for (const fallback of [{ value: 0, lastGood: {} }, {}]) {
      expect(() => resolve({ payments: { fallback } })).toThrow(expect.objectContaining({ code: 'FRS_ERR_OPTION_INVALID', message: expect.stringContaining("option 'dependencies.payments.fallback' expects 'last-good', { lastGood: { maxAgeMs } }, { value } or a function") as string }))
    }
  })

  it('does not quote the query of a refused baseUrl, where keys go', () => {
    expect(() => resolve({ payments: { baseUrl: 'http://payments.internal/api?api_key=secret' } })).toThrow(/http:\/\/payments\.internal\/api\?…/)
    expect(() => resolve({ payments: { baseUrl: 'http://payments.internal/api?api_key=secret' } })).not.toThrow(/secret/)
  })
})
