import type { ProblemTypeDefinition } from '../problem/registry.js'

export const HEALTH_PROBLEM_TYPES: Readonly<Record<string, ProblemTypeDefinition>> = Object.freeze({
  'not-ready': {
    title: 'Not ready',
    status: 503,
    description: 'The instance should not be sent traffic now: it is draining, under pressure, a required check fails or a required dependency is down. Authorised callers get the failing checks in `checks`.',
  },
  'not-live': {
    title: 'Not live',
    status: 503,
    description: 'The event loop of the instance has been stuck longer than allowed; restarting it may help.',
  },
  'shutting-down': {
    title: 'Shutting down',
    status: 503,
    description: 'The instance is shutting down and takes no new requests; the connection is closed after this answer. Retry on another instance.',
  },
})
