import { Ajv } from 'ajv'
import { expect } from 'vitest'

/*
 * RFC 9457's members as a JSON Schema, to check that what the library sends
 * is a problem document a generic client can read. `type`, `title` and
 * `status` are optional in the RFC; the library always sends them, so the
 * schema requires them. Extension member names follow RFC 9457 §3.2.
 */

// RFC 3986 URI-reference: only characters a URI may hold, percent signs
// followed by two hex digits, and a scheme (if any) of the right shape.
const URI_CHARACTERS = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/
const SCHEME_PREFIX = /^[^/?#]*:/
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/

export function isUriReference (value: string): boolean {
  return URI_CHARACTERS.test(value) && (!SCHEME_PREFIX.test(value) || SCHEME.test(value))
}

export const RFC9457_SCHEMA = {
  $id: 'urn:test:rfc9457-problem',
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string', format: 'uri-reference' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 100, maximum: 599 },
    detail: { type: 'string' },
    instance: { type: 'string', format: 'uri-reference' },
  },
  propertyNames: { anyOf: [{ enum: ['type', 'title', 'status', 'detail', 'instance'] }, { pattern: '^[A-Za-z][A-Za-z0-9_]{2,}$' }] },
} as const

const ajv = new Ajv({ allErrors: true, strict: true })
ajv.addFormat('uri-reference', isUriReference)
const validate = ajv.compile(RFC9457_SCHEMA)

/** The schema violations of a value, as one readable string; empty when it is a valid problem. */
export function problemViolations (value: unknown): string {
  return validate(value) ? '' : ajv.errorsText(validate.errors)
}

interface ResponseLike {
  statusCode: number
  headers: Record<string, unknown>
  body: string
}

export interface ProblemExpectation {
  /** The HTTP status the response must have. */
  status?: number
  /** Whether `instance` must be present (absent only where no request exists yet). @default true */
  instance?: boolean
}

/**
 * Asserts that a response is an RFC 9457 problem: the problem media type, a
 * body valid against the schema, `status` equal to the HTTP status and, by
 * default, an `instance`. Returns the parsed document for further checks.
 */
export function expectProblemResponse (res: ResponseLike, { status, instance = true }: ProblemExpectation = {}): Record<string, unknown> {
  if (status !== undefined) expect(res.statusCode).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json(;|$)/)
  const document = JSON.parse(res.body) as Record<string, unknown>
  expect(problemViolations(document)).toBe('')
  expect(document.status).toBe(res.statusCode)
  if (instance) expect(typeof document.instance).toBe('string')
  return document
}

/** Splits a raw HTTP/1.1 response into what {@link expectProblemResponse} reads. */
export function parseRawResponse (wire: string): ResponseLike {
  const at = wire.indexOf('\r\n\r\n')
  const head = at === -1 ? wire : wire.slice(0, at)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { statusCode: Number(statusLine.split(' ')[1]), headers, body: at === -1 ? '' : wire.slice(at + 4) }
}
