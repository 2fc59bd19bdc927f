/**
 * Reading the Idempotency-Key header (IETF httpapi draft): a Structured
 * Field String (`"…"`), or, leniently, a bare key. At most 255 characters
 * of printable ASCII.
 */

export type KeyReading =
  | { kind: 'absent' }
  | { kind: 'valid', key: string }
  | { kind: 'invalid', reason: string }

export const MAX_KEY_LENGTH = 255

// Quoted form: printable ASCII, with `\"` and `\\` as the only escapes.
const SF_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/
// Bare form, accepted leniently as many clients send it: token characters
// plus ':', '/' and '=' (UUIDs, base64 and base64url keys), no spaces,
// commas, quotes or backslashes.
const BARE_KEY = /^[!#$%&'*+.^_`|~0-9A-Za-z:/=-]+$/
// Checked before any pattern runs, so a huge header costs one comparison.
const MAX_RAW_LENGTH = MAX_KEY_LENGTH * 2 + 2

const ABSENT: KeyReading = Object.freeze({ kind: 'absent' })

export function readIdempotencyKey (value: string | string[] | undefined): KeyReading {
  if (value === undefined) return ABSENT
  if (Array.isArray(value)) return { kind: 'invalid', reason: 'the header is repeated' }
  if (value.length === 0) return { kind: 'invalid', reason: 'the key is empty' }
  if (value.length > MAX_RAW_LENGTH) return { kind: 'invalid', reason: `the key is longer than ${MAX_KEY_LENGTH} characters` }
  let key: string
  if (value.startsWith('"')) {
    const match = SF_STRING.exec(value)
    if (match === null) return { kind: 'invalid', reason: 'the quoted key is not a valid structured-field string (printable ASCII, escapes \\" and \\\\ only)' }
    key = (match[1] ?? '').replace(/\\(["\\])/g, '$1')
  } else {
    if (!BARE_KEY.test(value)) return { kind: 'invalid', reason: 'the key is neither a quoted string nor a token of printable ASCII' }
    key = value
  }
  if (key.length === 0) return { kind: 'invalid', reason: 'the key is empty' }
  if (key.length > MAX_KEY_LENGTH) return { kind: 'invalid', reason: `the key is longer than ${MAX_KEY_LENGTH} characters` }
  return { kind: 'valid', key }
}
