import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { canonicalJson, inProcessFingerprint, requestFingerprint } from '../../src/idempotency/index.js'
import type { FingerprintInput } from '../../src/idempotency/index.js'
import { IN_PROCESS_TEXT_LENGTH } from '../../src/idempotency/fingerprint.js'
import { errors } from '../../plugins/index.js'
import { PROPERTY_RUNS, jsonValue, reorderKeys } from '../helpers/arbitraries.js'

/**
 * The recursive definition fingerprints were stored with before the walk
 * became iterative; on values it can handle, the output must not change,
 * or keys stored by an older version would read as reused. `leaf` writes
 * what is not an object: JSON.stringify, as it was stored, or
 * {@link distinctLeaf}, as it is now.
 */
function recursiveCanonicalJson (value: unknown, leaf: (value: unknown) => string = distinctLeaf): string {
  if (value === null || typeof value !== 'object') return leaf(value)
  if (Array.isArray(value)) return `[${value.map((item) => recursiveCanonicalJson(item === undefined ? null : item, leaf)).join(',')}]`
  const entries = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${recursiveCanonicalJson((value as Record<string, unknown>)[key], leaf)}`)
  return `{${entries.join(',')}}`
}

function jsonLeaf (value: unknown): string {
  return JSON.stringify(value) ?? 'null'
}

/** JSON.stringify's leaf, but Infinity, -Infinity, NaN and -0 as themselves rather than as null and 0. */
function distinctLeaf (value: unknown): string {
  if (typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0))) return Object.is(value, -0) ? '-0' : String(value)
  return jsonLeaf(value)
}

/** Whether a number JSON writes as another value (a non-finite one, -0) is in `value`. */
function holdsUnwritableNumber (value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value) || Object.is(value, -0)
  if (value === null || typeof value !== 'object') return false
  return Object.values(value).some(holdsUnwritableNumber)
}

// Values a custom parser or a handler-side fingerprint could meet, beyond JSON.
const looseValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(undefined, null, true, false, 0, -0, Number.NaN, Number.POSITIVE_INFINITY, '', '\u2028', '\ud800'),
    fc.double(),
    fc.string({ unit: 'binary' }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.sparseArray(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 })
  ),
})).value

describe('canonical JSON', () => {
  it('is the output of the recursive definition for any shallow value', () => {
    fc.assert(fc.property(jsonValue, (value) => {
      expect(canonicalJson(value)).toBe(recursiveCanonicalJson(value))
    }), PROPERTY_RUNS)
    fc.assert(fc.property(looseValue, (value) => {
      expect(canonicalJson(value)).toBe(recursiveCanonicalJson(value))
    }), PROPERTY_RUNS)
  })

  it('is the output of the recursive definition for objects of few keys and of many, whose keys are sorted two ways', () => {
    const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.integer({ min: 0, max: 2000 }).map(String))
    const few = fc.dictionary(key, looseValue, { maxKeys: 16 })
    const many = fc.dictionary(key, looseValue, { minKeys: 17, maxKeys: 40 })
    fc.assert(fc.property(fc.oneof(few, many), (value) => {
      expect(canonicalJson(value)).toBe(recursiveCanonicalJson(value))
    }), PROPERTY_RUNS)
  })

  it('is the output of the recursive definition for values nested past the depth the fast walk takes', () => {
    fc.assert(fc.property(jsonValue, fc.integer({ min: 60, max: 80 }), fc.boolean(), (value, depth, inObjects) => {
      let nested: unknown = value
      for (let level = 0; level < depth; level++) nested = inObjects ? { b: nested, a: level } : [level, nested]
      expect(canonicalJson(nested)).toBe(recursiveCanonicalJson(nested))
    }), PROPERTY_RUNS)
  })

  it('does not depend on key order, at any level', () => {
    fc.assert(fc.property(jsonValue, fc.integer(), (value, seed) => {
      expect(canonicalJson(reorderKeys(value, seed))).toBe(canonicalJson(value))
    }), PROPERTY_RUNS)
  })

  it('is JSON that parses back to the same value, -0 included', () => {
    fc.assert(fc.property(jsonValue, (value) => {
      expect(JSON.parse(canonicalJson(value))).toEqual(value)
    }), PROPERTY_RUNS)
  })

  it('is the JSON.stringify form fingerprints were stored with, for any value without a non-finite number or -0', () => {
    fc.assert(fc.property(fc.oneof(jsonValue, looseValue), (value) => {
      fc.pre(!holdsUnwritableNumber(value))
      expect(canonicalJson(value)).toBe(recursiveCanonicalJson(value, jsonLeaf))
    }), PROPERTY_RUNS)
  })

  it('counts every number as itself: Infinity, -Infinity and NaN apart from null, -0 apart from 0', () => {
    const number = fc.oneof(fc.double(), fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY))
    const other = fc.oneof(number, fc.constantFrom(null, '0', '-0', 'Infinity', 'NaN', 0n))
    fc.assert(fc.property(number, other, fc.boolean(), (a, b, inArray) => {
      const wrap = (leaf: unknown): unknown => inArray ? [leaf] : { a: leaf }
      expect(canonicalJson(wrap(a)) === canonicalJson(wrap(b))).toBe(Object.is(a, b))
      expect(requestFingerprint({ method: 'POST', route: '/x', body: wrap(a) }) === requestFingerprint({ method: 'POST', route: '/x', body: wrap(b) })).toBe(Object.is(a, b))
      expect(inProcessFingerprint({ method: 'POST', route: '/x', body: wrap(a) }) === inProcessFingerprint({ method: 'POST', route: '/x', body: wrap(b) })).toBe(Object.is(a, b))
    }), PROPERTY_RUNS)
    expect(canonicalJson({ a: JSON.parse('1e400') as number, b: JSON.parse('-0') as number, c: Number.NaN, d: -Infinity })).toBe('{"a":Infinity,"b":-0,"c":NaN,"d":-Infinity}')
    expect(canonicalJson(JSON.parse('{"a":null,"b":0}'))).toBe('{"a":null,"b":0}')
  })

  it('tells apart values that differ', () => {
    fc.assert(fc.property(jsonValue, jsonValue, (a, b) => {
      fc.pre(JSON.stringify(a) !== JSON.stringify(b))
      // Distinct JSON texts may still be the same value up to key order.
      const same = canonicalJson(reorderKeys(a, 1)) === canonicalJson(reorderKeys(b, 1))
      expect(canonicalJson(a) === canonicalJson(b)).toBe(same)
      expect(requestFingerprint({ method: 'POST', route: '/x', body: a }) === requestFingerprint({ method: 'POST', route: '/x', body: b })).toBe(same)
    }), PROPERTY_RUNS)
  })

  it('handles a value nested far deeper than the call stack allows', () => {
    let deep: unknown = 1
    for (let i = 0; i < 200_000; i++) deep = i % 2 === 0 ? [deep] : { k: deep }
    const text = canonicalJson(deep)
    expect(text.length).toBe(1 + 100_000 * 2 + 100_000 * 6)
    expect(text.startsWith('{"k":[{"k":[')).toBe(true)
  })

  it('writes what a custom parser may add to JSON apart from any JSON value: dates as their toJSON, Maps, Sets and BigInts tagged', () => {
    expect(canonicalJson({ at: new Date(0), n: 12n })).toBe('{"at":"1970-01-01T00:00:00.000Z","n":12n}')
    expect(canonicalJson({ at: new Date(0) })).not.toBe(canonicalJson({ at: new Date(1) }))
    expect(canonicalJson({ at: new Date(0) })).toBe(canonicalJson({ at: '1970-01-01T00:00:00.000Z' }))
    expect(canonicalJson(new Map<unknown, unknown>([['b', 1], [{ k: 2 }, new Set([3n])]]))).toBe('Map[["b",1],[{"k":2},Set[3n]]]')
    expect(canonicalJson(new Map([['a', 1]]))).not.toBe(canonicalJson(new Map([['a', 2]])))
    expect(canonicalJson(new Set([1]))).not.toBe(canonicalJson([1]))
    expect(canonicalJson({ toJSON: (key: string) => `at ${key}` })).toBe('"at "')
    expect(canonicalJson([{ toJSON: (key: string) => `at ${key}` }])).toBe('["at 0"]')
    // A toJSON that gives undefined leaves its member out, and is null in an array, as in JSON.
    const nothing = { toJSON: () => undefined }
    expect(canonicalJson({ a: nothing, b: 1 })).toBe(JSON.stringify({ a: nothing, b: 1 }))
    expect(canonicalJson({ a: nothing })).not.toBe(canonicalJson({ a: null }))
    expect(canonicalJson([nothing])).toBe('[null]')
  })

  it('writes dates, Maps, Sets and BigInts the same way nested past the depth the fast walk takes', () => {
    const extra = fc.oneof(
      fc.date({ noInvalidDate: true }),
      fc.constant({ toJSON: () => undefined }),
      fc.bigInt(),
      fc.array(fc.tuple(fc.string({ maxLength: 3 }), jsonValue), { maxLength: 3 }).map((entries) => new Map(entries)),
      fc.array(jsonValue, { maxLength: 3 }).map((values) => new Set(values))
    )
    fc.assert(fc.property(fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(jsonValue, extra), { maxKeys: 4 }), fc.integer({ min: 65, max: 80 }), (value, depth) => {
      let nested: unknown = value
      for (let level = 0; level < depth; level++) nested = [nested]
      expect(canonicalJson(nested)).toBe(`${'['.repeat(depth)}${canonicalJson(value)}${']'.repeat(depth)}`)
    }), PROPERTY_RUNS)
  })

  it('writes a value shared by two members twice, and refuses a value that contains itself', () => {
    const shared = { a: 1 }
    expect(canonicalJson({ x: shared, y: [shared, shared] })).toBe('{"x":{"a":1},"y":[{"a":1},{"a":1}]}')
    const cycle: Record<string, unknown> = { a: [] }
    ;(cycle.a as unknown[]).push(cycle)
    expect(() => canonicalJson(cycle)).toThrow(errors.FRS_ERR_FINGERPRINT_CYCLE)
    const map = new Map<string, unknown>()
    map.set('self', map)
    expect(() => canonicalJson(map)).toThrow(errors.FRS_ERR_FINGERPRINT_CYCLE)
  })
})

describe('request fingerprints (properties)', () => {
  it('never throw for any content type, and ignore its parameters and case', () => {
    const mediaType = fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded')
    fc.assert(fc.property(jsonValue, mediaType, fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 40 }), (body, type, parameter, anyContentType) => {
      requestFingerprint({ method: 'POST', route: '/x', contentType: anyContentType, body })
      const bare = requestFingerprint({ method: 'POST', route: '/x', contentType: type, body })
      expect(requestFingerprint({ method: 'POST', route: '/x', contentType: ` ${type.toUpperCase()} ; ${parameter}`, body })).toBe(bare)
    }), PROPERTY_RUNS)
  })
})

describe('request fingerprints and the URL (properties)', () => {
  const path = fc.stringMatching(/^\/[a-z0-9/]{0,12}(\?[a-z0-9=&]{0,12})?$/)
  const input = fc.record({ method: fc.constantFrom('POST', 'PATCH'), route: fc.constantFrom('/x', '/orders/:id'), body: fc.oneof(jsonValue, fc.constant(undefined), fc.uint8Array({ maxLength: 8 }).map((bytes) => Buffer.from(bytes))) })

  it('count the URL unless it is the route template itself', () => {
    fc.assert(fc.property(input, path, path, (request, url, other) => {
      const without = requestFingerprint(request)
      expect(requestFingerprint({ ...request, url: request.route })).toBe(without)
      expect(inProcessFingerprint({ ...request, url: request.route })).toBe(inProcessFingerprint(request))
      if (url !== request.route) expect(requestFingerprint({ ...request, url })).not.toBe(without)
      expect(requestFingerprint({ ...request, url }) === requestFingerprint({ ...request, url: other })).toBe(url === other)
    }), PROPERTY_RUNS)
  })
})

describe('in-process fingerprints (properties)', () => {
  const body = fc.oneof(jsonValue, fc.string({ unit: 'binary', maxLength: 300 }), fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)), fc.constant(undefined))
  const input = fc.record({
    method: fc.constantFrom('POST', 'PATCH'),
    route: fc.constantFrom('/x', '/orders/:id'),
    url: fc.constantFrom(undefined, '/x', '/orders/:id', '/orders/7', '/x?y=1'),
    contentType: fc.constantFrom(undefined, 'application/json', 'text/plain; charset=utf-8'),
    body,
  })
  // Half the pairs are one request sent twice, its keys in another order.
  const pair = fc.oneof(fc.tuple(input, input), input.chain((a) => fc.integer().map((seed): [FingerprintInput, FingerprintInput] => [a, { ...a, body: Buffer.isBuffer(a.body) ? Buffer.from(a.body) : reorderKeys(a.body, seed) }])))

  it('tell two requests apart exactly when the hashed fingerprints do', () => {
    fc.assert(fc.property(pair, ([a, b]) => {
      expect(inProcessFingerprint(a) === inProcessFingerprint(b)).toBe(requestFingerprint(a) === requestFingerprint(b))
    }), PROPERTY_RUNS)
  })

  it('are the text of their own method, route, media type and body, whatever was fingerprinted before', () => {
    const mediaTypes = new Map([[undefined, ''], ['application/json', 'application/json'], ['text/plain; charset=utf-8', 'text/plain']])
    const jsonInput = fc.record({ method: fc.constantFrom('POST', 'PATCH'), route: fc.constantFrom('/x', '/orders/:id'), contentType: fc.constantFrom(...mediaTypes.keys()), body: fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }) })
    fc.assert(fc.property(fc.array(jsonInput, { minLength: 2, maxLength: 8 }), (requests) => {
      for (const request of requests) {
        expect(inProcessFingerprint(request)).toBe(`${request.method}\n${request.route}\n${mediaTypes.get(request.contentType) ?? ''}\nj:${canonicalJson(request.body)}`)
      }
    }), PROPERTY_RUNS)
  })

  it('are right for the very first request, even one whose fields are all empty', async () => {
    vi.resetModules()
    const fresh = await import('../../src/idempotency/fingerprint.js')
    expect(fresh.inProcessFingerprint({ method: '', route: '', body: undefined })).toBe('\n\n\n')
  })

  it('are never longer than the bound, and are the hashed fingerprint past it', () => {
    fc.assert(fc.property(input, (request) => {
      const fingerprint = inProcessFingerprint(request)
      expect(fingerprint.length).toBeLessThanOrEqual(IN_PROCESS_TEXT_LENGTH)
      if (!fingerprint.includes('\n')) expect(fingerprint).toBe(requestFingerprint(request))
    }), PROPERTY_RUNS)
    expect(inProcessFingerprint({ method: 'POST', route: '/x', body: 'a'.repeat(IN_PROCESS_TEXT_LENGTH) })).toBe(requestFingerprint({ method: 'POST', route: '/x', body: 'a'.repeat(IN_PROCESS_TEXT_LENGTH) }))
    expect(inProcessFingerprint({ method: 'POST', route: '/x', body: { sku: 7 } })).toBe('POST\n/x\n\nj:{"sku":7}')
  })
})
