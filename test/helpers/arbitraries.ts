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
