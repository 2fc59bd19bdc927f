import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import { FRS_ERR_FINGERPRINT_CYCLE } from '../errors.js'
import { flatten } from '../flat-string.js'
import { textHash } from '../text-hash.js'

// `container` is the value the frame writes (a Map or Set for the arrays
// of their entries), kept open until its last member is written.
type Frame =
  | { kind: 'array', items: readonly unknown[], index: number, container: object }
  | { kind: 'object', keys: string[], values: unknown[], index: number, container: object }

// Marks "no value left to write" apart from every JSON value, undefined included.
const DONE = Symbol('done')

/**
 * Serialises a JSON value with object keys sorted at every level, so that
 * two bodies that differ only in key order get the same fingerprint.
 *
 * A body from a custom parser may hold more than JSON: a value with a
 * `toJSON` method (a `Date`) counts as what that returns, as in
 * `JSON.stringify`; a `Map` is written `Map[[key,value],…]` and a `Set`
 * `Set[value,…]`, in their order, and a `BigInt` `12n`. None of these
 * forms is JSON text, so none stands for a JSON value, and two bodies that
 * differ in them differ in fingerprint (a `Date` read as an object has no
 * members: every date looked the same).
 *
 * Iterative, with an explicit stack: a body nested as deep as the JSON
 * parser accepts (hundreds of thousands of levels fit in Fastify's default
 * body limit) would overflow the call stack of a recursive walk. The output
 * is exactly that of the recursive definition: members whose value is
 * `undefined` are dropped, `undefined` array items become `null`, other
 * leaves are written by `JSON.stringify` (`null` when it writes nothing),
 * but for the numbers it writes as another value: Infinity, -Infinity, NaN
 * and -0 are written as such, so that they count apart from `null` and `0`.
 * @throws FRS_ERR_FINGERPRINT_CYCLE for a value that contains itself
 */
export function canonicalJson (value: unknown): string {
  // Each value is replaced by its toJSON's once, by whoever holds it: a
  // member whose toJSON gives undefined is left out, as JSON leaves it.
  const root = jsonValueOf(value, '')
  return recursiveCanonicalJson(root, 0) ?? iterativeCanonicalJson(root)
}

// How deep the recursive walk goes before it hands over to the iterative
// one: far deeper than request bodies usually nest, far shallower than the
// call stack allows. A cycle looks infinitely deep, so it is handed over
// too, and refused there.
const RECURSIVE_DEPTH = 64

/**
 * The same output as {@link iterativeCanonicalJson}, written by recursion:
 * no stack of frames and no set of open containers to allocate, which is
 * most of the cost for the small bodies idempotent requests carry.
 * Undefined when the value nests deeper than `RECURSIVE_DEPTH`.
 */
function recursiveCanonicalJson (value: unknown, depth: number): string | undefined {
  if (value === null) return 'null'
  if (typeof value !== 'object') return jsonLeaf(value)
  if (depth === RECURSIVE_DEPTH) return undefined
  const collection = collectionOf(value)
  if (collection !== undefined) {
    const entries = recursiveCanonicalJson(collection.entries, depth)
    return entries === undefined ? undefined : `${collection.tag}${entries}`
  }
  if (Array.isArray(value)) {
    const items = value as readonly unknown[]
    let out = '['
    for (let index = 0; index < items.length; index++) {
      if (index > 0) out += ','
      // A hole writes nothing between its commas.
      if (!(index in items)) continue
      const item = recursiveCanonicalJson(jsonValueOf(items[index], String(index)) ?? null, depth + 1)
      if (item === undefined) return undefined
      out += item
    }
    return `${out}]`
  }
  const members = value as Readonly<Record<string, unknown>>
  const keys = sortedKeys(members)
  let out = '{'
  let written = 0
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string
    const member = jsonValueOf(members[key], key)
    if (member === undefined) continue
    const text = recursiveCanonicalJson(member, depth + 1)
    if (text === undefined) return undefined
    if (written++ > 0) out += ','
    out += `${jsonString(key)}:${text}`
  }
  return `${out}}`
}

// What JSON.stringify escapes in a string: quotes, backslashes, control
// characters, and surrogates (lone ones are escaped; a string with a pair
// is left to JSON.stringify too, which is rare enough not to matter).
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** JSON.stringify's output for a string, without its call for the common string that needs no escape. */
function jsonString (text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`
}

/**
 * JSON.stringify's output for a value that is not an object, `null` where
 * it writes nothing; a BigInt, which it refuses, as `12n`; a number JSON
 * cannot write as itself, as its own text (see {@link numberText}).
 */
function jsonLeaf (value: unknown): string {
  switch (typeof value) {
    case 'string': return jsonString(value)
    case 'number': return numberText(value)
    case 'boolean': return value ? 'true' : 'false'
    case 'bigint': return `${value}n`
    default: return JSON.stringify(value) ?? 'null'
  }
}

/**
 * A number as JSON writes it (as String() does), but for the numbers JSON
 * writes as another value: it writes Infinity, -Infinity and NaN as `null`
 * and -0 as `0`. JSON.parse gives Infinity for `1e400` and -0 for `-0`:
 * written as JSON writes them, `{"a":1e400}` would be `{"a":null}` and
 * `{"a":-0}` would be `{"a":0}`, and the second of each pair would replay
 * the first's answer. They are written `Infinity`, `-Infinity`, `NaN` and
 * `-0` instead: none
 * is what any other value writes (the first three are no JSON text, and
 * String() writes no other number `-0`), and every other number is written
 * as before, so that the fingerprints of ordinary bodies, stored before,
 * still match.
 */
function numberText (value: number): string {
  // String() writes Infinity, -Infinity and NaN as themselves, -0 as 0.
  return value === 0 && Object.is(value, -0) ? '-0' : String(value)
}

/** The value JSON.stringify writes in place of `value`: what its `toJSON(key)` returns, if it has one. */
function jsonValueOf (value: unknown, key: string): unknown {
  if ((typeof value !== 'object' || value === null) && typeof value !== 'bigint') return value
  const toJSON = (value as { toJSON?: unknown }).toJSON
  return typeof toJSON === 'function' ? (toJSON as (key: string) => unknown).call(value, key) : value
}

/** A Map's entries or a Set's values, as an array, with the tag written before it; undefined for anything else. */
function collectionOf (value: object): { tag: string, entries: unknown[] } | undefined {
  if (value instanceof Map) return { tag: 'Map', entries: Array.from(value as Map<unknown, unknown>) }
  if (value instanceof Set) return { tag: 'Set', entries: Array.from(value as Set<unknown>) }
  return undefined
}

// Up to this many keys an insertion sort beats Array#sort's call into the
// engine; past it, Array#sort's n log n keeps a body of many keys cheap.
const INSERTION_SORT_KEYS = 16

/** The object's own enumerable keys in code-unit order, as Array#sort() without a comparator orders strings. */
function sortedKeys (members: Readonly<Record<string, unknown>>): string[] {
  const keys = Object.keys(members)
  if (keys.length > INSERTION_SORT_KEYS) return keys.sort()
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index] as string
    let slot = index
    while (slot > 0 && (keys[slot - 1] as string) > key) {
      keys[slot] = keys[slot - 1] as string
      slot--
    }
    keys[slot] = key
  }
  return keys
}

function iterativeCanonicalJson (value: unknown): string {
  let out = ''
  const stack: Frame[] = []
  // Containers being written, to refuse a cycle rather than loop for ever.
  const open = new Set<object>()
  let next: unknown = value
  while (next !== DONE) {
    if (next === null || typeof next !== 'object') {
      out += jsonLeaf(next)
    } else {
      if (open.has(next)) throw new FRS_ERR_FINGERPRINT_CYCLE()
      open.add(next)
      const collection = collectionOf(next)
      if (collection !== undefined) {
        out += `${collection.tag}[`
        stack.push({ kind: 'array', items: collection.entries, index: 0, container: next })
      } else if (Array.isArray(next)) {
        out += '['
        stack.push({ kind: 'array', items: next, index: 0, container: next })
      } else {
        const members = next as Record<string, unknown>
        // Members as JSON writes them: each replaced by its toJSON's, and left out when that is undefined.
        const keys: string[] = []
        const values: unknown[] = []
        for (const key of Object.keys(members).sort()) {
          const member = jsonValueOf(members[key], key)
          if (member === undefined) continue
          keys.push(key)
          values.push(member)
        }
        out += '{'
        stack.push({ kind: 'object', keys, values, index: 0, container: next })
      }
    }
    next = DONE
    while (next === DONE && stack.length > 0) {
      const frame = stack[stack.length - 1] as Frame
      if (frame.kind === 'array') {
        if (frame.index === frame.items.length) {
          out += ']'
          open.delete(frame.container)
          stack.pop()
          continue
        }
        const index = frame.index++
        if (index > 0) out += ','
        // A hole writes nothing between its commas, as Array#map then join did.
        if (!(index in frame.items)) continue
        next = jsonValueOf(frame.items[index], String(index)) ?? null
      } else {
        if (frame.index === frame.keys.length) {
          out += '}'
          open.delete(frame.container)
          stack.pop()
          continue
        }
        const at = frame.index++
        out += `${at > 0 ? ',' : ''}${JSON.stringify(frame.keys[at])}:`
        next = frame.values[at]
      }
    }
  }
  return out
}

export interface FingerprintInput {
  method: string
  /** The route template (`/orders/:id`). */
  route: string
  /**
   * The URL as the client sent it, path and query string, so that another
   * resource of the same route (`/accounts/2` after `/accounts/1`) or
   * another query is another request. The plugin gives it for a route with
   * parameters or a request with a query string: without either, the
   * fingerprint is what it was before the URL counted, so keys stored then
   * stay valid. It counts only when it is not the route template itself.
   */
  url?: string | undefined
  /** The request's content type; a JSON string and a text body differ by it. */
  contentType?: string | undefined
  /** A parsed JSON body, a string or a Buffer; undefined for no body. */
  body: unknown
}

/** SHA-256 over method, route, URL, media type and canonical body: what makes two requests "the same". */
export function requestFingerprint (input: FingerprintInput): string {
  const text = fingerprintText(input)
  if (text === undefined) return bufferFingerprint(input)
  return textHash(text)
}

/**
 * Up to this many characters, a fingerprint kept inside the process is its
 * text: 10,000 keys (the memory store's default) hold at most about 5 MB
 * of them.
 */
export const IN_PROCESS_TEXT_LENGTH = 256

/**
 * The fingerprint for a store inside the process: the text that
 * {@link requestFingerprint} hashes when it is short, exact and without
 * the hash, which costs more than the rest of a replay from memory; its
 * hash otherwise. The two never meet: a text holds line feeds, a hash none.
 */
export function inProcessFingerprint (input: FingerprintInput): string {
  const text = fingerprintText(input)
  if (text === undefined) return bufferFingerprint(input)
  if (text.length > IN_PROCESS_TEXT_LENGTH) return textHash(text)
  return flatten(text)
}

/**
 * The last head written, kept because an idempotent route's requests
 * nearly always share their method, route and content type: the next
 * one's head costs three comparisons instead of four new strings. It
 * starts as the true head of its empty fields, so it is never wrong.
 */
const lastHead = { method: '', route: '', contentType: undefined as string | undefined, head: '\n\n\n' }

function headOf ({ method, route, contentType }: FingerprintInput): string {
  if (method === lastHead.method && route === lastHead.route && contentType === lastHead.contentType) return lastHead.head
  const mediaType = contentType === undefined ? '' : contentType === 'application/json' ? contentType : (contentType.split(';', 1)[0] ?? '').trim().toLowerCase()
  const head = flatten(`${method.toUpperCase()}\n${route}\n${mediaType}\n`)
  lastHead.method = method
  lastHead.route = route
  lastHead.contentType = contentType
  lastHead.head = head
  return head
}

/**
 * The head, and the URL when it counts. A URL cannot hold a line feed (Node
 * refuses one in the request line), and "u:" starts no body part ("s:",
 * "j:", "b:"), so no two inputs share a text.
 */
function headWithUrl (input: FingerprintInput): string {
  const head = headOf(input)
  return input.url === undefined || input.url === input.route ? head : `${head}u:${input.url}\n`
}

/** What is hashed for a string, JSON or absent body; undefined for a Buffer, hashed as bytes. */
function fingerprintText (input: FingerprintInput): string | undefined {
  const { body } = input
  if (Buffer.isBuffer(body)) return undefined
  const head = headWithUrl(input)
  if (typeof body === 'string') return `${head}s:${body}`
  return body === undefined ? head : `${head}j:${canonicalJson(body)}`
}

function bufferFingerprint (input: FingerprintInput): string {
  return createHash('sha256').update(headWithUrl(input)).update('b:').update(input.body as Buffer).digest('base64url')
}
