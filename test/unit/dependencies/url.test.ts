import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { resolveUrl, urlResolver } from '../../../src/dependencies/url.js'

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

describe('urlResolver', () => {
  const outcome = (resolve: () => string): string => {
    try {
      return resolve()
    } catch (error) {
      return `refused ${String((error as { code?: string }).code)}`
    }
  }

  it('answers what resolveUrl answers for a path, the first time and every time after, refusals included', () => {
    const segment = fc.constantFrom('..', '%2e%2e', 'admin', 'a', '', '\\', '//', '?x=1', 'http:', '@evil', 'orders', '7')
    const paths = fc.array(fc.array(segment, { maxLength: 5 }).map((segments) => segments.join('/')), { minLength: 1, maxLength: 20 })
    fc.assert(fc.property(paths, (list) => {
      const resolve = urlResolver('payments', base)
      for (const path of [...list, ...list]) {
        expect(outcome(() => resolve(path))).toBe(outcome(() => resolveUrl('payments', base, path).href))
      }
    }), { numRuns: 300 })
  })

  it('stays correct past the number of paths it remembers', () => {
    const resolve = urlResolver('payments', base)
    for (let i = 0; i < 3000; i++) expect(resolve(`/orders/${i % 1500}`)).toBe(`http://payments.internal/api/v1/orders/${i % 1500}`)
  })
})
