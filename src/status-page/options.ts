import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { describeValue } from '../describe.js'
import { assertKnownKeys, assertOptionsObject, optionalIntegerBetween, optionalString } from '../options.js'

/** Options of the status page. */
export interface StatusPageOptions<Request = unknown> {
  /**
   * Where the page is served, under the prefix of the context it is
   * registered in; its stream, assets and actions live under it. @default '/resilience'
   */
  path?: string
  /**
   * Who may see the page, read its stream and use its actions; anyone
   * else gets a 403 problem. Required: the page shows how the service
   * is doing and can stop chaos experiments.
   */
  authorize: (request: Request) => boolean | Promise<boolean>
  /** How often the page is updated, in milliseconds (250 to 10000). @default 1000 */
  intervalMs?: number
  /** How much history the charts show, in milliseconds (one minute to one day). @default 3_600_000 */
  historyMs?: number
  /**
   * Key of the CSRF tokens, at least 32 characters; instances behind one
   * load balancer that share it accept each other's tokens. @default a random key per process
   */
  csrfSecret?: string
}

export interface ResolvedStatusPageOptions<Request> {
  path: string
  authorize: (request: Request) => boolean | Promise<boolean>
  intervalMs: number
  historyMs: number
  csrfSecret: string | undefined
}

// Tied to the interface: a key listed here must exist there, and a type test
// checks that every key there is listed (test/types/option-keys.test-d.ts).
export const STATUS_PAGE_KEYS = ['path', 'authorize', 'intervalMs', 'historyMs', 'csrfSecret'] as const satisfies ReadonlyArray<keyof StatusPageOptions>

export function resolveStatusPageOptions<Request> (options: unknown): ResolvedStatusPageOptions<Request> {
  assertOptionsObject(options, 'statusPage')
  assertKnownKeys(options, STATUS_PAGE_KEYS, 'statusPage')
  const path = optionalString(options.path, 'statusPage.path', '/resilience')
  // Segments of plain characters: no trailing slash (two addresses), no query, no parameters.
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(path)) {
    throw new FRS_ERR_OPTION_INVALID('statusPage.path', 'a path of one or more /segments (letters, digits, . _ ~ -)', describeValue(path))
  }
  if (typeof options.authorize !== 'function') {
    throw new FRS_ERR_OPTION_INVALID('statusPage.authorize', 'a function (request) => boolean deciding who may see the page', describeValue(options.authorize))
  }
  const csrfSecret = options.csrfSecret
  if (csrfSecret !== undefined && (typeof csrfSecret !== 'string' || csrfSecret.length < 32)) {
    throw new FRS_ERR_OPTION_INVALID('statusPage.csrfSecret', 'a string of at least 32 characters', typeof csrfSecret === 'string' ? `a string of ${csrfSecret.length} characters` : describeValue(csrfSecret))
  }
  return {
    path,
    authorize: options.authorize as ResolvedStatusPageOptions<Request>['authorize'],
    intervalMs: optionalIntegerBetween(options.intervalMs, 'statusPage.intervalMs', 1000, 250, 10_000, 'an integer from 250 to 10000'),
    historyMs: optionalIntegerBetween(options.historyMs, 'statusPage.historyMs', 3_600_000, 60_000, 86_400_000, 'an integer from 60000 to 86400000'),
    csrfSecret,
  }
}
