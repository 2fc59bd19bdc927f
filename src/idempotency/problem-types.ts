import type { ProblemTypeDefinition } from '../problem/registry.js'

export const IDEMPOTENCY_PROBLEM_TYPES: Readonly<Record<string, ProblemTypeDefinition>> = Object.freeze({
  'idempotency-key-missing': {
    title: 'Idempotency key required',
    status: 400,
    description: 'This route requires an Idempotency-Key header so that a retried request is never executed twice.',
  },
  'idempotency-key-invalid': {
    title: 'Invalid idempotency key',
    status: 400,
    description: 'The Idempotency-Key header is malformed: a quoted string or a bare key of printable ASCII, at most 255 characters.',
  },
  'idempotency-key-in-use': {
    title: 'Request with this idempotency key in progress',
    status: 409,
    description: 'A request with the same key is still being processed; retry after the Retry-After delay to get its response.',
  },
  'idempotency-key-reused': {
    title: 'Idempotency key reused for a different request',
    status: 422,
    description: 'The key was already used with a different method, route or body. Use a new key for a new request.',
  },
  'idempotency-body-unsupported': {
    title: 'Request body cannot be compared',
    status: 415,
    description: 'The route reads this request\'s body itself (a streamed upload), or the body contains itself, so a retry under the same key could not be told from a different request: the key cannot be honoured, and the request was not executed.',
  },
  'idempotency-store-unavailable': {
    title: 'Idempotency store unavailable',
    status: 503,
    description: 'The store that remembers idempotency keys could not be reached, so the request was not executed; retry later.',
  },
})
