import { readCapped, sharedBody, watchBody } from './bodies.js'
import { headersPart } from './call-key.js'
import { NO_ANSWER } from './dependency.js'
import type { AttemptResult, CallPlan } from './dependency.js'
import type { FallbackOption, ResolvedDependency, ResolvedFallback } from './options.js'
import { parseRetryAfter } from './retry-after.js'
import { isUnder } from './url.js'
import { markPassedOn } from '../problem/passed-on.js'
import { assertKnownKeys, assertOptionsObject } from '../options.js'

/** Per-call options of `fetch` and `call`, as users write them. */
export interface DependencyCallOptions<T = unknown> {
  /** This call's fallback, instead of the dependency's. */
  fallback?: FallbackOption<T>
  /**
   * For `call`: the call is safe to repeat (retries, hedging, coalescing).
   * A dependency with `idempotencyKeys` retries every call, this one
   * included, with the key in the headers given to `fn`.
   * @default false
   */
  idempotent?: boolean
  /**
   * Identifies identical calls for coalescing and the last good answer,
   * used as given; for `fetch`, by default method, URL and a hash of the
   * credential headers sent.
   */
  key?: string
}

// Tied to the interface as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const CALL_OPTION_KEYS = ['fallback', 'idempotent', 'key'] as const satisfies ReadonlyArray<keyof DependencyCallOptions>
/** `fetch` tells a call safe to repeat by its method and body: it takes no `idempotent`. */
export const FETCH_OPTION_KEYS = ['fallback', 'key'] as const satisfies ReadonlyArray<keyof DependencyCallOptions>

/**
 * Checks the keys of one call's options (none given is undefined): a
 * misspelt one (`fallbak`) would be dropped, and the call made without
 * the fallback or key meant for it.
 * @throws FRS_ERR_OPTION_UNKNOWN naming the key and the known ones
 */
export function assertCallOptionKeys (options: unknown, known: readonly string[], where: string): void {
  if (options === undefined) return
  assertOptionsObject(options, where)
  assertKnownKeys(options, known, where)
}

/** Per-call options once checked. */
export interface CallOptions {
  fallback?: ResolvedFallback | undefined
  idempotent?: boolean | undefined
  key?: string | undefined
  /**
   * The idempotency key for a keyed call that the caller set none for,
   * given what the call is (method and URL, or `call`); undefined for a
   * random one. Asked once per call, when it is planned.
   */
  idempotencyKeyFor?: ((call: string) => string | undefined) | undefined
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])
const KEYED_METHODS = new Set(['POST', 'PATCH'])
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304])
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
// As many as fetch follows before it fails.
const MAX_REDIRECTS = 20
// What fetch drops with the body when a redirect turns the call into a GET.
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type']

/** A buffered answer, shared by coalesced callers and kept as the last good one. */
interface Snapshot {
  status: number
  statusText: string
  headers: [string, string][]
  url: string
  body: Uint8Array
}

/** A streamed Response (never shared), or a buffered answer. */
type FetchAnswer = Response | Snapshot

/** A Response for each caller of a shared or remembered answer, over the same bytes. */
export function toResponse (answer: FetchAnswer): Response {
  if (answer instanceof Response) return answer
  const body = NULL_BODY_STATUSES.has(answer.status) ? null : sharedBody(answer.body)
  const response = new Response(body, { status: answer.status, statusText: answer.statusText, headers: answer.headers })
  Object.defineProperty(response, 'url', { value: answer.url })
  return response
}

/**
 * A fallback's value as a fetch's answer: a Response as it is, anything
 * else as its JSON. A value JSON cannot write (undefined, from a function
 * that declined, a BigInt, a cycle) gives no answer: the failure stands.
 */
function fallbackResponse (value: unknown): FetchAnswer | typeof NO_ANSWER {
  if (value instanceof Response) return value.clone()
  try {
    return Response.json(value)
  } catch {
    return NO_ANSWER
  }
}

/**
 * A 409 to an attempt that carried an idempotency key, with Retry-After or
 * as this library's `idempotency-key-in-use` problem: the dependency is
 * still running an earlier attempt with the same key, so it is worth
 * asking again later.
 */
async function keyInUse (response: Response): Promise<boolean> {
  if (response.headers.get('retry-after') !== null) return true
  if (!(response.headers.get('content-type') ?? '').includes('problem+json')) return false
  const problem: unknown = await response.clone().json().catch(() => undefined)
  const type = typeof problem === 'object' && problem !== null ? (problem as { type?: unknown }).type : undefined
  return typeof type === 'string' && /(^|[:/])idempotency-key-in-use$/.test(type)
}

/**
 * Follows the redirect that `first` (the answer of a fetch given
 * `redirect: 'manual'`) is, and the ones after it, only to a URL under
 * the baseUrl, as fetch would (a 303, or a 301 or 302 to a
 * POST, becomes a GET without the body; a 307 or 308 sends it again): a
 * dependency cannot send a call, its headers and body, to another host
 * or path. A redirect it does not follow is the answer, as with
 * `redirect: 'manual'`: one leaving the baseUrl, one without a usable
 * Location, or a 307 or 308 whose streamed body was already sent.
 */
async function followUnder (baseUrl: URL, first: Response, request: RequestInit): Promise<Response> {
  let response = first
  let hops = 0
  for (; REDIRECT_STATUSES.has(response.status); hops++) {
    const location = response.headers.get('location')
    if (location === null || !URL.canParse(location, response.url)) return response
    const next = new URL(location, response.url)
    if (!isUnder(next, baseUrl)) return response
    const method = request.method ?? 'GET'
    if (((response.status === 301 || response.status === 302) && method === 'POST') || (response.status === 303 && method !== 'GET' && method !== 'HEAD')) {
      const headers = new Headers(request.headers)
      for (const name of BODY_HEADERS) headers.delete(name)
      request = { ...request, method: 'GET', body: null, headers }
    } else if (!isReplayableBody(request.body)) {
      return response
    }
    await response.body?.cancel().catch(() => {})
    if (hops === MAX_REDIRECTS) throw new TypeError('fetch failed: redirect count exceeded')
    response = await fetch(next, request)
  }
  if (hops > 0) Object.defineProperty(response, 'redirected', { value: true })
  return response
}

/** The plan of a `fetch` through the dependency's policies. */
export function fetchPlan (settings: ResolvedDependency, pathOrUrl: string | URL, init: RequestInit | undefined, options: CallOptions | undefined): CallPlan<FetchAnswer> {
  const url = settings.resolveUrl(pathOrUrl)
  const method = (init?.method ?? 'GET').toUpperCase()
  // A streamed body can be sent only once.
  // A streamed body (web or Node stream, any async iterable) can be sent only once.
  const replayable = isReplayableBody(init?.body)
  const idempotent = replayable && IDEMPOTENT_METHODS.has(method)
  // Sent with a key even when it cannot be retried: a retry of the whole request sends it again.
  const keyed = KEYED_METHODS.has(method) && settings.idempotencyKeys !== undefined
  const fallback = options?.fallback ?? settings.fallback
  const buffer = settings.coalesce !== undefined || fallback?.kind === 'last-good'
  // The caller's headers, parsed once for the call's key, its own idempotency key and every attempt.
  const given = init?.headers === undefined ? undefined : new Headers(init.headers)
  // Only a buffered answer is shared or kept, so only then is a key needed.
  // Only a read (GET, HEAD) gets a key of its own: a call with a body
  // (GraphQL, RPC, search) is told apart by what it sends, which the key
  // leaves out, so sharing or keeping its answer would hand one caller's
  // answer to another. The caller's `key` may still name it.
  const key = options?.key ?? (buffer && (method === 'GET' || method === 'HEAD') ? (settings.coalesce?.key ?? defaultKey)(method, url) + headersPart(given, settings.keyHeaders) : '')
  const keyHeader = keyed ? settings.idempotencyKeys?.header : undefined
  // A key the caller sets (its own client's, passed on) is the call's: a
  // client retrying the whole request then reaches the dependency with it again.
  const ownKey = keyHeader === undefined ? undefined : given?.get(keyHeader) ?? options?.idempotencyKeyFor?.(`${method} ${url}`)
  // Redirects are followed only under the baseUrl; 'manual' and 'error' are the caller's.
  const confinedTo = (init?.redirect ?? 'follow') === 'follow' ? settings.baseUrl : undefined
  return {
    idempotent,
    keyed,
    replayable,
    idempotencyKey: ownKey,
    key,
    coalesce: settings.coalesce !== undefined && (method === 'GET' || method === 'HEAD'),
    fallback,
    fromFallback: fallbackResponse,
    shareable: (answer) => !(answer instanceof Response),
    honoursSignal: true,
    watch: (answer, settled) => answer instanceof Response && answer.body !== null ? watchBody(answer, settled) : undefined,
    attempt: async (signal, headers): Promise<AttemptResult<FetchAnswer>> => {
      let sent: Headers | Record<string, string> = headers
      if (given !== undefined) {
        const merged = new Headers(given)
        for (const [name, value] of Object.entries(headers)) merged.set(name, value)
        sent = merged
      }
      const request: RequestInit = confinedTo === undefined ? { ...init, method, headers: sent, signal } : { ...init, method, headers: sent, signal, redirect: 'manual' }
      let response = await fetch(url, request)
      if (confinedTo !== undefined && REDIRECT_STATUSES.has(response.status)) response = await followUnder(confinedTo, response, request)
      if (response.status === 409 && keyHeader !== undefined && headers[keyHeader] !== undefined && await keyInUse(response)) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now())
        await response.body?.cancel().catch(() => {})
        return statusFailure(409, retryAfterMs, { busy: true })
      }
      if (settings.failureStatus(response.status)) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now())
        // The dependency's error body is never passed on; dropping it frees the connection.
        await response.body?.cancel().catch(() => {})
        return statusFailure(response.status, retryAfterMs)
      }
      if (!buffer) return { kind: 'value', value: response }
      const body = await readCapped(response, settings.maxBodyBytes)
      if (body instanceof Response) return { kind: 'value', value: body }
      return { kind: 'value', value: { status: response.status, statusText: response.statusText, headers: [...response.headers], url: response.url, body } }
    },
  }
}

type Failure = Extract<AttemptResult<never>, { kind: 'failure' }>

/** An attempt the dependency answered with a failing `status`, with the Retry-After it sent, if any. */
function statusFailure (status: number, retryAfterMs: number | undefined, details: Pick<Failure, 'busy' | 'cause'> = {}): Failure {
  const failure: Failure = { kind: 'failure', reason: 'status', status, ...details }
  if (retryAfterMs !== undefined) failure.retryAfterMs = retryAfterMs
  return failure
}

function defaultKey (method: string, url: string): string {
  return `${method} ${url}`
}

/** The status an HTTP client's error carries (fetch-style `status`, Node-style `statusCode`, got's `response.statusCode`). */
export function statusOfError (error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const record = error as { status?: unknown, statusCode?: unknown, response?: { status?: unknown, statusCode?: unknown } }
  for (const candidate of [record.status, record.statusCode, record.response?.statusCode, record.response?.status]) {
    if (typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 100 && candidate <= 599) return candidate
  }
  return undefined
}

/**
 * The Retry-After an HTTP client's error carries, in milliseconds from
 * `nowMs` (see {@link parseRetryAfter}): read from the error's `headers`
 * (undici's ResponseError) or its `response.headers` (got's HTTPError,
 * axios, a fetch `Response` such as ky's), each a plain record or an
 * object with `get` (fetch's `Headers`, axios's).
 */
export function retryAfterOfError (error: unknown, nowMs: number): number | undefined {
  return parseRetryAfter(retryAfterTextOfError(error), nowMs)
}

/** The Retry-After header an HTTP client's error carries, as it was sent (see {@link retryAfterOfError}). */
function retryAfterTextOfError (error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const record = error as { headers?: unknown, response?: { headers?: unknown } | null }
  return retryAfterHeader(record.headers) ?? retryAfterHeader(record.response?.headers)
}

function retryAfterHeader (headers: unknown): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined
  const value = typeof (headers as { get?: unknown }).get === 'function'
    ? (headers as { get: (name: string) => unknown }).get('retry-after')
    : (headers as Record<string, unknown>)['retry-after']
  return typeof value === 'string' ? value : undefined
}

/** The plan of a call through any client: `fn(signal, headers)`. */
export function callPlan<T> (settings: ResolvedDependency, fn: (signal: AbortSignal, headers: Record<string, string>) => Promise<T>, options: CallOptions | undefined): CallPlan<T> {
  const idempotent = options?.idempotent ?? false
  const fallback = options?.fallback ?? settings.fallback
  const keyed = settings.idempotencyKeys !== undefined
  return {
    idempotent,
    keyed,
    idempotencyKey: keyed ? options?.idempotencyKeyFor?.('call') : undefined,
    key: options?.key ?? '',
    coalesce: settings.coalesce !== undefined && options?.key !== undefined,
    fallback,
    fromFallback: (value) => value as T,
    attempt: async (signal, headers): Promise<AttemptResult<T>> => {
      try {
        return { kind: 'value', value: await fn(signal, headers) }
      } catch (error) {
        if (signal.aborted) throw error
        const status = statusOfError(error)
        // A 2xx or 3xx on a thrown error is the answer's head before its
        // body failed (a connection reset mid-body): a network failure.
        if (status === undefined || status < 400) throw error
        if (!settings.failureStatus(status)) {
          // The caller's answer is the status; the upstream's other headers stay out of it.
          markPassedOn(error, { status, retryAfter: retryAfterTextOfError(error) })
          return { kind: 'error', error }
        }
        // Retried no sooner than the dependency asked, or not at all when that is too far off, as for fetch.
        const retryAfterMs = retryAfterOfError(error, Date.now())
        return statusFailure(status, retryAfterMs, { cause: error })
      }
    },
  }
}

/** Whether a fetch body can be sent again (a retry, a redirect): anything but a stream or another async iterable. */
function isReplayableBody (body: unknown): boolean {
  return body == null || typeof body === 'string' || body instanceof ArrayBuffer || ArrayBuffer.isView(body) ||
    body instanceof Blob || body instanceof FormData || body instanceof URLSearchParams
}
