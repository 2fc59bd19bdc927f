import fc from 'fast-check'

/*
 * Arbitraries shared by the property tests: values a client can put in a
 * header or a body, well-formed and not.
 */

/** Runs per property: enough to find edge cases, few enough for a busy machine. */
export const PROPERTY_RUNS = { numRuns: 200 } as const
/** Runs per property that goes through a Fastify app. */
export const APP_PROPERTY_RUNS = { numRuns: 60 } as const

/** A string of any UTF-16 code units, lone surrogates included. */
export const anyString = fc.string({ unit: 'binary', maxLength: 64 })

/**
 * A value Node's HTTP parser lets through in a header: visible ASCII,
 * spaces and tabs inside, obs-text bytes (read as latin1).
 */
export const headerValue = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 48 }),
  fc.string({ unit: fc.constantFrom(...'0123456789 ,;=.-+eE"HMSmunxX\t'.split('')), maxLength: 24 }),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((code) => code !== 0x7f).map((code) => String.fromCharCode(code)), maxLength: 32 })
).map((value) => value.trim())

/** Any JSON value fast-check builds, nested a few levels. */
export const jsonValue = fc.jsonValue({ maxDepth: 4 })

/** The same value with the keys of every object in another order. */
export function reorderKeys (value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item, index) => reorderKeys(item, seed + index))
  if (value === null || typeof value !== 'object') return value
  const entries = Object.entries(value)
  // A deterministic shuffle: the seed picks the permutation.
  let state = seed >>> 0
  for (let i = entries.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0
    const j = state % (i + 1)
    const swap = entries[i] as [string, unknown]
    entries[i] = entries[j] as [string, unknown]
    entries[j] = swap
  }
  // fromEntries defines own properties, so a "__proto__" key stays a member.
  return Object.fromEntries(entries.map(([key, item], index) => [key, reorderKeys(item, seed + index + 1)]))
}

const PRINTABLE_ASCII = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code))
const TOKEN_CHARACTERS = "!#$%&'*+.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz:/=-".split('')

/** An idempotency key the draft allows: 1 to 255 characters of printable ASCII. */
export const idempotencyKey = fc.string({ unit: PRINTABLE_ASCII, minLength: 1, maxLength: 255 })

/** A key a client may send bare, without quotes. */
export const bareIdempotencyKey = fc.string({ unit: fc.constantFrom(...TOKEN_CHARACTERS), minLength: 1, maxLength: 255 })

/** A key as a Structured Field String: quoted, with `"` and `\` escaped. */
export function quoteKey (key: string): string {
  return `"${key.replace(/["\\]/g, '\\$&')}"`
}

/** A whole number of milliseconds as a client writes it, leading zeros and all. */
export const millisecondsText = fc.tuple(fc.string({ unit: fc.constant('0'), maxLength: 3 }), fc.bigInt({ min: 0n, max: 10n ** 30n }))
  .map(([zeros, value]) => `${zeros}${value}`)

export const GRPC_UNITS_MS = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 } as const

/** A `grpc-timeout` value gRPC's spec allows: 1 to 8 digits and a unit. */
export const grpcTimeout = fc.tuple(fc.string({ unit: fc.constantFrom(...'0123456789'.split('')), minLength: 1, maxLength: 8 }), fc.constantFrom(...Object.keys(GRPC_UNITS_MS) as Array<keyof typeof GRPC_UNITS_MS>))

const delay = fc.integer({ min: 0, max: 600_000 })
const rate = fc.double({ min: 0, max: 1, noNaN: true })

/** A fault a caller may request in the chaos header, as its fields. */
export const requestedFault = fc.oneof(
  fc.record({ type: fc.constant('latency'), ms: delay, rate }),
  fc.tuple(delay, delay).map(([a, b]) => ({ type: 'latency', minMs: Math.min(a, b), maxMs: Math.max(a, b) })),
  fc.record({ type: fc.constant('error'), status: fc.integer({ min: 400, max: 599 }), rate }),
  fc.record({ type: fc.constant('abort'), rate }),
  fc.record({ type: fc.constant('hang') }),
  fc.record({ type: fc.constant('exception'), message: fc.string({ unit: fc.constantFrom(...'abcdefgh XYZ-_'.split('')), minLength: 1, maxLength: 20 }).map((text) => text.trim()).filter((text) => text !== '') })
)

/** Writes fault fields as the chaos header does: `type=latency;ms=200;rate=1`. */
export function formatFault (fields: Readonly<Record<string, string | number>>): string {
  return Object.entries(fields).map(([key, value]) => `${key}=${value}`).join(';')
}

/**
 * Values for every header the library reads, some well-formed, some not;
 * a header left out is absent.
 */
export const libraryHeaders = fc.record({
  'idempotency-key': fc.oneof(idempotencyKey.map(quoteKey), bareIdempotencyKey, headerValue),
  'x-request-timeout-ms': fc.oneof(millisecondsText, headerValue),
  'grpc-timeout': fc.oneof(grpcTimeout.map(([digits, unit]) => digits + unit), headerValue),
  'x-envoy-expected-rq-timeout-ms': fc.oneof(millisecondsText, headerValue),
  'x-chaos-fault': fc.oneof(requestedFault.map(formatFault), headerValue),
  'x-chaos-signature': fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), maxLength: 64 }), headerValue),
  'content-type': fc.oneof(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-unknown'), headerValue),
}, { requiredKeys: [] })
