import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clientErrorResponse, frameworkErrorProblem } from '../../../src/problem/index.js'
import { PROPERTY_RUNS, anyString } from '../../helpers/arbitraries.js'
import { parseRawResponse, problemViolations } from '../../helpers/problem-schema.js'

const errorLike = fc.oneof(
  fc.record({ code: fc.oneof(anyString, fc.constantFrom('FST_ERR_BAD_URL', 'FST_ERR_MAX_PARAM_LENGTH', 'FST_ERR_ASYNC_CONSTRAINT', 'FST_ERR_SOMETHING_NEW')), statusCode: fc.oneof(fc.integer({ min: -1, max: 700 }), fc.double(), anyString), message: anyString }, { requiredKeys: [] }),
  fc.anything()
)

describe('frameworkErrorProblem (properties)', () => {
  it('is a valid RFC 9457 problem for any error, with the instance given and no text of the error', () => {
    fc.assert(fc.property(errorLike, fc.string({ unit: fc.constantFrom(...'abc-123'.split('')), minLength: 1 }), (error, instance) => {
      const problem = frameworkErrorProblem(error, instance)
      expect(problemViolations(JSON.parse(JSON.stringify(problem)))).toBe('')
      expect(problem.instance).toBe(instance)
      expect(problem.status).toBeGreaterThanOrEqual(400)
      const message = (error as { message?: unknown } | null)?.message
      if (typeof message === 'string' && message.length > 3) expect(problem.detail).not.toContain(message)
    }), PROPERTY_RUNS)
  })
})

describe('clientErrorResponse (properties)', () => {
  it('is a complete HTTP response holding a valid problem, for any error code', () => {
    fc.assert(fc.property(fc.oneof(anyString, fc.constantFrom('HPE_HEADER_OVERFLOW', 'ERR_HTTP_REQUEST_TIMEOUT', 'HPE_INVALID_METHOD'), fc.anything()), (code) => {
      const response = parseRawResponse(clientErrorResponse(code))
      expect([400, 408, 431]).toContain(response.statusCode)
      expect(response.headers['content-length']).toBe(String(Buffer.byteLength(response.body)))
      const problem = JSON.parse(response.body) as Record<string, unknown>
      expect(problemViolations(problem)).toBe('')
      expect(problem.status).toBe(response.statusCode)
    }), PROPERTY_RUNS)
  })
})
