import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import type { AttemptResult, CallPlan } from './dependency.js'
import type { FallbackOption, ResolvedDependency, ResolvedFallback } from './options.js'
import { parseRetryAfter } from './retry-after.js'

/** Per-call options of `fetch` and `call`, as users write them. */
export interface DependencyCallOptions<T = unknown> {
  /** This call's fallback, instead of the dependency's. */
  fallback?: FallbackOption<T>
  /** For `call`: the call is safe to repeat (retries, hedging, coalescing). @default false */
  idempotent?: boolean
  /** Identifies identical calls for coalescing and the last good answer; for `fetch`, by default method and URL. */
  key?: string
}

/** Per-call options once checked. */
export interface CallOptions {
  fallback?: ResolvedFallback | undefined
  idempotent?: boolean | undefined
  key?: string | undefined
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])
const KEYED_METHODS = new Set(['POST', 'PATCH'])
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304])

/** A buffered answer, shared by coalesced callers and kept as the last good one. */
interface Snapshot {
  status: number
  statusText: string
  headers: [string, string][]
  body: ArrayBuffer
}

type FetchAnswer = Response | Snapshot

/** A fresh Response for each caller of a shared or remembered answer. */
export function toResponse (answer: FetchAnswer): Response {
  if (answer instanceof Response) return answer
  const body = NULL_BODY_STATUSES.has(answer.status) ? null : answer.body.slice(0)
  return new Response(body, { status: answer.status, statusText: answer.statusText, headers: answer.headers })
}

function fallbackResponse (value: unknown): FetchAnswer {
  return value instanceof Response ? value.clone() : Response.json(value)
}

function resolveUrl (settings: ResolvedDependency, pathOrUrl: string | URL): URL {
  try {
    return new URL(pathOrUrl, settings.baseUrl)
  } catch {
    throw new FRS_ERR_OPTION_INVALID(`dependency('${settings.name}').fetch url`, settings.baseUrl === undefined ? 'an absolute URL (the dependency has no baseUrl)' : 'a path or an absolute URL', describeValue(String(pathOrUrl)))
  }
}

/** The plan of a `fetch` through the dependency's policies. */
export function fetchPlan (settings: ResolvedDependency, pathOrUrl: string | URL, init: RequestInit | undefined, options: CallOptions | undefined): CallPlan<FetchAnswer> {
  const url = resolveUrl(settings, pathOrUrl)
  const method = (init?.method ?? 'GET').toUpperCase()
  // A streamed body can be sent only once.
  const replayable = init?.body == null || !(init.body instanceof ReadableStream)
  const idempotent = replayable && IDEMPOTENT_METHODS.has(method)
  const keyed = replayable && KEYED_METHODS.has(method) && settings.idempotencyKeys !== undefined
  const fallback = options?.fallback ?? settings.fallback
  const key = options?.key ?? (settings.coalesce?.key ?? defaultKey)(method, url.href)
  const buffer = settings.coalesce !== undefined || fallback?.kind === 'last-good'
  const userSignal = init?.signal ?? undefined
  return {
    idempotent,
    keyed,
    key,
    coalesce: settings.coalesce !== undefined && (method === 'GET' || method === 'HEAD'),
    fallback,
    fromFallback: fallbackResponse,
    attempt: async (signal, headers): Promise<AttemptResult<FetchAnswer>> => {
      const sent = new Headers(init?.headers)
      for (const [name, value] of Object.entries(headers)) sent.set(name, value)
      const response = await fetch(url, { ...init, method, headers: sent, signal: userSignal == null ? signal : AbortSignal.any([signal, userSignal]) })
      if (settings.failureStatus(response.status)) {
        const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now())
        // The dependency's error body is never passed on; dropping it frees the connection.
        await response.body?.cancel().catch(() => {})
        return retryAfterMs === undefined
          ? { kind: 'failure', reason: 'status', status: response.status }
          : { kind: 'failure', reason: 'status', status: response.status, retryAfterMs }
      }
      if (!buffer) return { kind: 'value', value: response }
      return { kind: 'value', value: { status: response.status, statusText: response.statusText, headers: [...response.headers], body: await response.arrayBuffer() } }
    },
  }
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

/** The plan of a call through any client: `fn(signal, headers)`. */
export function callPlan<T> (settings: ResolvedDependency, fn: (signal: AbortSignal, headers: Record<string, string>) => Promise<T>, options: CallOptions | undefined): CallPlan<T> {
  const idempotent = options?.idempotent ?? false
  const fallback = options?.fallback ?? settings.fallback
  return {
    idempotent,
    keyed: settings.idempotencyKeys !== undefined,
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
        if (status === undefined) throw error
        if (!settings.failureStatus(status)) return { kind: 'error', error }
        return { kind: 'failure', reason: 'status', status, cause: error }
      }
    },
  }
}
