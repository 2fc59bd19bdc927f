import { describe, expect, it } from 'vitest'
import { ProblemTypeRegistry } from '../../../src/problem/index.js'
import { FRS_ERR_OPTION_INVALID, FRS_ERR_PROBLEM_TYPE_INVALID } from '../../../src/errors.js'

describe('problem type registry', () => {
  it('resolves a slug to base + slug', () => {
    const registry = new ProblemTypeRegistry('https://errors.example.com/problems/')
    registry.register('out-of-stock', { title: 'Out of stock', status: 409 })
    expect(registry.uri('out-of-stock')).toBe('https://errors.example.com/problems/out-of-stock')
    expect(registry.get('out-of-stock')).toEqual({ title: 'Out of stock', status: 409 })
    expect(registry.get('missing')).toBeUndefined()
  })

  it('registering the same definition twice is allowed, a conflicting one is not', () => {
    const registry = new ProblemTypeRegistry('urn:x:')
    registry.register('a', { title: 'A', status: 400 })
    expect(() => registry.register('a', { title: 'A', status: 400 })).not.toThrow()
    expect(() => registry.register('a', { title: 'A', status: 401 })).toThrow(FRS_ERR_PROBLEM_TYPE_INVALID)
  })

  it.each(['', 'Upper', 'two--dashes', '-lead', 'trail-', 'a'.repeat(65), 'sp ace'])('refuses the slug %j', (slug) => {
    const registry = new ProblemTypeRegistry('urn:x:')
    expect(() => registry.register(slug, { title: 'x', status: 400 })).toThrow(/a slug is lowercase letters/)
  })

  it.each(['problems/', '', 'https://exa mple.com/', 'no-scheme'])('refuses the base %j', (base) => {
    expect(() => new ProblemTypeRegistry(base)).toThrow(FRS_ERR_OPTION_INVALID)
  })

  it('stored definitions cannot be changed through the registry', () => {
    const registry = new ProblemTypeRegistry('urn:x:')
    const definition = { title: 'A', status: 400 }
    registry.register('a', definition)
    definition.status = 500
    expect(registry.get('a')?.status).toBe(400)
    expect(Object.isFrozen(registry.get('a'))).toBe(true)
  })
})
