import process from 'node:process'
import { assertKnownKeys, assertOptionsObject, optionalBoolean, optionalString } from '../options.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { describeValue } from '../describe.js'
import { PROBLEM_TYPE_KEYS } from './registry.js'
import type { ProblemTypeDefinition } from './registry.js'

/** Options of the `problemDetails` plugin. */
export interface ProblemDetailsOptions {
  /**
   * Prefix of every registered problem type URI: `typeBase + slug`. Point it
   * at a page you own that documents the types.
   * @default 'urn:fastify-resilience:problem:'
   */
  typeBase?: string
  /** Extra problem types, slug → `{ title, status, description? }`. */
  types?: Record<string, ProblemTypeDefinition>
  /**
   * Send the message of unexpected 5xx errors as `detail`. Stacks are never sent.
   * @default process.env.NODE_ENV === 'development'
   */
  exposeInternalErrors?: boolean
  /**
   * Install a not-found handler that answers unknown routes with a 404 problem.
   * Set to false when the application installs its own.
   * @default true
   */
  notFound?: boolean
}

export interface ResolvedProblemDetailsOptions {
  typeBase: string
  types: Record<string, ProblemTypeDefinition>
  exposeInternalErrors: boolean
  notFound: boolean
}

/** The default prefix of problem type URIs: a URN that resolves nowhere on purpose. */
export const DEFAULT_TYPE_BASE = 'urn:fastify-resilience:problem:'

// Tied to the interface: a key listed here must exist there, and a type test
// checks that every key there is listed (test/types/option-keys.test-d.ts).
export const PROBLEM_DETAILS_KEYS = ['typeBase', 'types', 'exposeInternalErrors', 'notFound'] as const satisfies ReadonlyArray<keyof ProblemDetailsOptions>

/**
 * Refuses a key a type's definition does not know (a `detail`, which
 * problems have and types do not): the registry would drop it. What the
 * definitions hold, and what is not an object, the registry checks as it
 * registers them.
 */
function assertKnownTypeKeys (types: Record<string, unknown>): void {
  for (const [slug, definition] of Object.entries(types)) {
    if (typeof definition === 'object' && definition !== null) assertKnownKeys(definition as Record<string, unknown>, PROBLEM_TYPE_KEYS, `problemDetails.types.${slug}`)
  }
}

export function resolveProblemDetailsOptions (options: unknown, env: NodeJS.ProcessEnv = process.env): ResolvedProblemDetailsOptions {
  assertOptionsObject(options, 'problemDetails')
  assertKnownKeys(options, PROBLEM_DETAILS_KEYS, 'problemDetails')
  const types = options.types ?? {}
  if (typeof types !== 'object' || types === null || Array.isArray(types)) {
    throw new FRS_ERR_OPTION_INVALID('problemDetails.types', 'an object mapping slugs to { title, status }', describeValue(types))
  }
  assertKnownTypeKeys(types as Record<string, unknown>)
  return {
    typeBase: optionalString(options.typeBase, 'problemDetails.typeBase', DEFAULT_TYPE_BASE),
    types: types as Record<string, ProblemTypeDefinition>,
    exposeInternalErrors: optionalBoolean(options.exposeInternalErrors, 'problemDetails.exposeInternalErrors', env.NODE_ENV === 'development'),
    notFound: optionalBoolean(options.notFound, 'problemDetails.notFound', true),
  }
}
