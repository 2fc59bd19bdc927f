import { describeValue } from '../describe.js'
import { FRS_ERR_DEPENDENCY_URL_OUTSIDE, FRS_ERR_OPTION_INVALID } from '../errors.js'

const SCHEME = /^[A-Za-z][A-Za-z\d+.-]*:/
// Two slashes (either way round) start a network path: another host.
const NETWORK_PATH = /^[\\/]{2}/

/**
 * Where a `fetch` goes. A path is joined under the baseUrl's path (a
 * leading `/` included), and whatever it resolves to, dot segments and
 * their percent-encoded forms included, must stay under it: a path built
 * from a request's input can never reach another host or a sibling path.
 */
export function resolveUrl (name: string, baseUrl: URL | undefined, pathOrUrl: string | URL): URL {
  const text = String(pathOrUrl)
  const where = `dependency('${name}').fetch url`
  if (baseUrl === undefined) {
    if (!URL.canParse(text)) throw new FRS_ERR_OPTION_INVALID(where, 'an absolute URL (the dependency has no baseUrl)', describeValue(text))
    return new URL(text)
  }
  const outside = (): Error => new FRS_ERR_DEPENDENCY_URL_OUTSIDE(name, describeValue(text), baseUrl.href)
  const dir = baseDir(baseUrl)
  let url: URL
  if (pathOrUrl instanceof URL || SCHEME.test(text)) {
    if (!URL.canParse(text)) throw new FRS_ERR_OPTION_INVALID(where, 'a path or an absolute URL', describeValue(text))
    url = new URL(text)
  } else {
    if (NETWORK_PATH.test(text)) throw outside()
    url = new URL(`${dir}${text.replace(/^[\\/]/, '')}`, baseUrl.origin)
  }
  if (!isUnder(url, baseUrl)) throw outside()
  return url
}

function baseDir (baseUrl: URL): string {
  return baseUrl.pathname.endsWith('/') ? baseUrl.pathname : `${baseUrl.pathname}/`
}

/** Whether `url` (parsed, so its dot segments are resolved) has the baseUrl's origin and is at or under its path. */
export function isUnder (url: URL, baseUrl: URL): boolean {
  const dir = baseDir(baseUrl)
  return url.origin === baseUrl.origin && (url.pathname.startsWith(dir) || `${url.pathname}/` === dir)
}

/** Paths remembered per dependency; past this the memory starts again. */
const REMEMBERED_PATHS = 1024

/**
 * {@link resolveUrl} for one dependency, remembering the href of each path
 * it joined: a handler calls the same few paths again and again, and
 * parsing and checking a URL costs more than the rest of a call's
 * policies. Refusals are not remembered (they throw each time).
 */
export function urlResolver (name: string, baseUrl: URL | undefined): (pathOrUrl: string | URL) => string {
  const hrefs = new Map<string, string>()
  return (pathOrUrl) => {
    if (typeof pathOrUrl !== 'string') return resolveUrl(name, baseUrl, pathOrUrl).href
    let href = hrefs.get(pathOrUrl)
    if (href === undefined) {
      href = resolveUrl(name, baseUrl, pathOrUrl).href
      if (hrefs.size >= REMEMBERED_PATHS) hrefs.clear()
      hrefs.set(pathOrUrl, href)
    }
    return href
  }
}
