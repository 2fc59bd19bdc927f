import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readClaimReply } from '../../src/idempotency/claim-reply.js'
import { PROPERTY_RUNS, jsonValue } from '../helpers/arbitraries.js'

const bytes = fc.uint8Array({ maxLength: 40 }).map((array) => Buffer.from(array))

/** Bytes that start like a reply the claim script can give, then go anywhere. */
const replyLike = fc.tuple(fc.constantFrom('A', 'M', 'P', 'P-', 'C', 'U', 'x', ''), bytes)
  .map(([start, rest]) => Buffer.concat([Buffer.from(start, 'latin1'), rest]))

/** A completed reply's three parts, each well-formed or not. */
const completedLike = fc.tuple(
  fc.oneof(fc.integer({ min: -10, max: 1200 }).map(String), fc.string({ maxLength: 5 })),
  fc.oneof(jsonValue.map((value) => JSON.stringify(value)), fc.string({ maxLength: 20 })),
  bytes
).map(([status, headers, body]) => Buffer.concat([Buffer.from(`C${status}\n${headers}\n`), body]))

describe('readClaimReply (properties)', () => {
  it('reads any bytes as one of the four outcomes or refuses them with FRS_ERR_IDEMPOTENCY_STORE_REPLY, never another error', () => {
    fc.assert(fc.property(fc.oneof(replyLike, completedLike, bytes), (reply) => {
      let outcome
      try {
        outcome = readClaimReply(reply)
      } catch (error) {
        expect((error as { code?: string }).code).toBe('FRS_ERR_IDEMPOTENCY_STORE_REPLY')
        return
      }
      expect(['acquired', 'mismatch', 'in-progress', 'completed']).toContain(outcome.kind)
      if (outcome.kind === 'in-progress') expect(Number.isInteger(outcome.retryAfterMs) && outcome.retryAfterMs >= 0).toBe(true)
      if (outcome.kind === 'completed') {
        expect(outcome.response.status).toBeGreaterThanOrEqual(100)
        expect(outcome.response.status).toBeLessThanOrEqual(999)
        expect(typeof outcome.response.headers).toBe('object')
        expect(Object.values(outcome.response.headers).every((value) => typeof value === 'string')).toBe(true)
        expect(Buffer.isBuffer(outcome.response.body)).toBe(true)
      }
    }), PROPERTY_RUNS)
  })

  it('refuses what is not a Buffer: a reply of another shape from a script of another version', () => {
    for (const reply of [null, undefined, 1, 'A', ['acquired'], [Buffer.from('completed')]]) {
      expect(() => readClaimReply(reply)).toThrow(expect.objectContaining({ code: 'FRS_ERR_IDEMPOTENCY_STORE_REPLY' }) as Error)
    }
  })
})
