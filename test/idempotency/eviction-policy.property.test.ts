import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { policyEvicts, readMaxmemoryPolicy } from '../../src/idempotency/eviction-policy.js'
import { PROPERTY_RUNS, anyString } from '../helpers/arbitraries.js'

const REDIS_POLICIES = ['noeviction', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'] as const

/** Text INFO may carry in a field's name or value: no line break, no colon in a name. */
const nameCharacter = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_0123456789'.split(''))
const fieldName = fc.oneof(
  fc.string({ unit: nameCharacter, minLength: 1, maxLength: 24 }),
  // Names that come close to the policy's: the parser must not take them for it.
  fc.constantFrom('maxmemory', 'maxmemory_human', 'maxmemory_policy_', 'xmaxmemory_policy', 'maxmemory_polic', 'used_memory')
).filter((name) => name !== 'maxmemory_policy')
const fieldValue = fc.string({ maxLength: 30 }).filter((value) => !/[\r\n]/.test(value))
const fieldLine = fc.tuple(fieldName, fieldValue).map(([name, value]) => `${name}:${value}`)
const sectionLine = fc.constantFrom('# Memory', '# Server', '#', '')
const otherLines = fc.array(fc.oneof(fieldLine, sectionLine), { maxLength: 30 })

/** A policy as INFO writes it: Redis' own, or any text without spaces around it. */
const policy = fc.oneof(
  fc.constantFrom(...REDIS_POLICIES),
  fc.string({ minLength: 1, maxLength: 20 }).filter((value) => !/[\r\n]/.test(value) && value.trim() === value && value !== '')
)
const lineEnd = fc.constantFrom('\r\n', '\n')

describe('readMaxmemoryPolicy (properties)', () => {
  it('finds the policy wherever its line stands among any other lines, CRLF or LF', () => {
    fc.assert(fc.property(otherLines, otherLines, policy, lineEnd, (before, after, given, end) => {
      const info = [...before, `maxmemory_policy:${given}`, ...after].join(end) + end
      expect(readMaxmemoryPolicy(info)).toBe(given)
    }), PROPERTY_RUNS)
  })

  it('finds none in text without the field, even among fields whose names come close', () => {
    fc.assert(fc.property(otherLines, lineEnd, (lines, end) => {
      expect(readMaxmemoryPolicy(lines.join(end))).toBeUndefined()
    }), PROPERTY_RUNS)
  })

  it('reads any text without throwing: undefined, or a policy with no line break and no spaces around it', () => {
    fc.assert(fc.property(fc.oneof(anyString, fc.tuple(anyString, anyString).map(([head, tail]) => `${head}\nmaxmemory_policy:${tail}`)), (text) => {
      const read = readMaxmemoryPolicy(text)
      if (read === undefined) return
      expect(read).not.toBe('')
      expect(read).not.toMatch(/[\r\n]/)
      expect(read.trim()).toBe(read)
    }), PROPERTY_RUNS)
  })

  it('leaves an empty field unread: no policy is known', () => {
    expect(readMaxmemoryPolicy('# Memory\r\nmaxmemory_policy:\r\n')).toBeUndefined()
    expect(readMaxmemoryPolicy('')).toBeUndefined()
  })
})

describe('policyEvicts', () => {
  it('every policy but noeviction may evict the store\'s keys, volatile-* ones too (they all have a TTL), and those Redis may add', () => {
    expect(REDIS_POLICIES.filter(policyEvicts)).toEqual(REDIS_POLICIES.filter((name) => name !== 'noeviction'))
    fc.assert(fc.property(fc.string(), (name) => {
      expect(policyEvicts(name)).toBe(name !== 'noeviction')
    }), PROPERTY_RUNS)
  })
})
