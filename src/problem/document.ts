/**
 * An RFC 9457 problem details object as it is sent. The five core members
 * are the library's; anything else is an extension member.
 */
export interface ProblemDocument {
  /** A URI identifying the problem type; `about:blank` for plain HTTP errors. */
  type: string
  /** A short, human-readable summary that does not change between occurrences. */
  title: string
  /** The HTTP status code, always equal to the status of the response. */
  status: number
  /** A human-readable explanation specific to this occurrence. */
  detail?: string
  /** A URI reference identifying this occurrence: the request id. */
  instance?: string
  [extension: string]: unknown
}

/**
 * What an application passes to `reply.problem()` or `new ProblemError()`.
 * `type` is a registered slug (see {@link ProblemTypeRegistry}) or an
 * absolute URI; `status` may be left out when the slug defines it.
 */
export interface ProblemInit {
  status?: number
  type?: string
  title?: string
  detail?: string
  [extension: string]: unknown
}

export const CORE_MEMBERS: ReadonlySet<string> = new Set(['type', 'title', 'status', 'detail', 'instance'])

// RFC 9457 §3.2: letters, digits and underscores, starting with a letter,
// at least three characters, so that members stay usable in any language.
const EXTENSION_NAME = /^[A-Za-z][A-Za-z0-9_]{2,}$/

export function isValidExtensionName (name: string): boolean {
  return EXTENSION_NAME.test(name) && !CORE_MEMBERS.has(name)
}

export function isErrorStatus (value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 400 && value <= 599
}

const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s\u0000-\u001f\u007f]*$/ // eslint-disable-line no-control-regex

export function isAbsoluteUri (value: string): boolean {
  return ABSOLUTE_URI.test(value)
}
