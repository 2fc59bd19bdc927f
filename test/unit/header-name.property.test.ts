import fc from 'fast-check'
import { validateHeaderName } from 'node:http'
import { describe, expect, it } from 'vitest'
import { isHeaderName } from '../../src/header-name.js'
import { optionalHeaderName } from '../../src/options.js'
import { PROPERTY_RUNS, anyString, headerValue } from '../helpers/arbitraries.js'

/** Whether Node would send or read a header of this name. */
function nodeTakes (name: string): boolean {
  try {
    validateHeaderName(name)
    return true
  } catch {
    return false
  }
}

const nameLike = fc.string({ unit: fc.constantFrom(...'aZ09-_.!#$%&\'*+^`|~ :;,"()/<>=?@[]{}\\\té'.split('')), maxLength: 12 })

describe('header names (properties)', () => {
  it('are exactly the names Node accepts: RFC 9110 tokens', () => {
    fc.assert(fc.property(fc.oneof(nameLike, anyString, headerValue), (name) => {
      expect(isHeaderName(name)).toBe(nodeTakes(name))
    }), PROPERTY_RUNS)
  })

  it('an option takes one lower-cased and refuses anything else, naming the option and the value', () => {
    fc.assert(fc.property(fc.oneof(nameLike, anyString), (name) => {
      if (nodeTakes(name)) {
        expect(optionalHeaderName(name, 'x.header', 'x-default')).toBe(name.toLowerCase())
      } else {
        expect(() => optionalHeaderName(name, 'x.header', 'x-default')).toThrow(/^fastify-resilience: option 'x\.header' expects an HTTP header name \(letters, digits and !#\$%&'\*\+-\.\^_`\|~\), instead got a 'string'/)
      }
    }), PROPERTY_RUNS)
    expect(optionalHeaderName(undefined, 'x.header', 'x-default')).toBe('x-default')
    for (const value of [42, null, ['x-a']]) expect(() => optionalHeaderName(value, 'x.header', 'x-default')).toThrow(TypeError)
  })
})
