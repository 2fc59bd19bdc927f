import { describe, expect, it } from 'vitest'
import { describeValue } from '../../src/describe.js'

describe('describeValue', () => {
  it.each([
    [null, "'null'"],
    [undefined, "'undefined'"],
    [[1], "an 'array'"],
    [3, "a 'number' (3)"],
    [true, "a 'boolean' (true)"],
    ['abc', 'a \'string\' ("abc")'],
    [() => 1, "a 'function'"],
    [{}, "an 'object'"],
  ])('describes %o', (value, text) => {
    expect(describeValue(value)).toBe(text)
  })

  it('shortens long strings', () => {
    expect(describeValue('x'.repeat(100))).toBe(`a 'string' ("${'x'.repeat(57)}...")`)
  })
})
