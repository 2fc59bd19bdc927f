import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { resolveUrl } from '../../../src/dependencies/url.js'

const base = new URL('http://payments.internal/api/v1')

describe('resolveUrl', () => {
  it('whatever the path, a URL it answers is on the base origin and under the base path', () => {
    const segment = fc.constantFrom('..', '.', '%2e%2e', '%2E.', '.%2e', 'admin', 'a', '', '\\', '//', '?x=1', '#f', '%2f', 'http:', '@evil')
    fc.assert(fc.property(fc.array(segment, { maxLength: 8 }), fc.constantFrom('', '/', '\\'), (segments, lead) => {
      let url: URL
      try {
        url = resolveUrl('payments', base, lead + segments.join('/'))
      } catch (error) {
        expect((error as { code?: string }).code).toMatch(/^FRS_ERR_(DEPENDENCY_URL_OUTSIDE|OPTION_INVALID)$/)
        return
      }
      expect(url.origin).toBe('http://payments.internal')
      expect(url.pathname === '/api/v1' || url.pathname.startsWith('/api/v1/')).toBe(true)
    }), { numRuns: 2000 })
  })

  it('without a baseUrl, an absolute URL is required', () => {
    expect(resolveUrl('payments', undefined, 'https://payments.internal/x').href).toBe('https://payments.internal/x')
    expect(() => resolveUrl('payments', undefined, '/x')).toThrow(/expects an absolute URL/)
  })
})
