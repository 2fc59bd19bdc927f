import fc from 'fast-check'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { decodedBody } from '../../src/idempotency/index.js'
import { PROPERTY_RUNS, anyString } from '../helpers/arbitraries.js'

const ENCODERS: Array<[string, (bytes: Buffer) => Buffer]> = [
  ['gzip', gzipSync],
  ['x-gzip', gzipSync],
  ['deflate', deflateSync],
  ['br', brotliCompressSync],
  [' GZip ', gzipSync],
]
const bytes = fc.uint8Array({ maxLength: 2048 }).map((array) => Buffer.from(array))

describe('decodedBody (properties)', () => {
  it('gives back the bytes any supported coding was applied to', () => {
    fc.assert(fc.property(bytes, fc.constantFrom(...ENCODERS), (original, [coding, encode]) => {
      expect(decodedBody(encode(original), coding, 4096)?.equals(original)).toBe(true)
    }), PROPERTY_RUNS)
  })

  it('gives nothing for bytes that inflate past the limit', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(...ENCODERS), (limit, [coding, encode]) => {
      expect(decodedBody(encode(Buffer.alloc(limit + 1, 'a')), coding, limit)).toBeUndefined()
    }), PROPERTY_RUNS)
  })

  it('never throws: bytes not in the coding, and codings it does not know, give nothing', () => {
    fc.assert(fc.property(fc.oneof(bytes, anyString), fc.oneof(fc.constantFrom(...ENCODERS.map(([coding]) => coding)), anyString), (payload, coding) => {
      const decoded = decodedBody(payload, coding, 4096)
      if (decoded !== undefined) expect(['gzip', 'x-gzip', 'deflate', 'br']).toContain(coding.trim().toLowerCase())
    }), PROPERTY_RUNS)
  })
})
