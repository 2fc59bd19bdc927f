import type { ProblemTypeDefinition } from '../problem/registry.js'

export const LOAD_SHEDDING_PROBLEM_TYPES: Readonly<Record<string, ProblemTypeDefinition>> = Object.freeze({
  overloaded: {
    title: 'Service overloaded',
    status: 503,
    description: 'The server refused the request to keep the requests it admitted fast. The `reason` member says which limit was reached (concurrency, queue-timeout, deadline, pressure, bulkhead); retry after the Retry-After delay.',
  },
})
