import { FRS_ERR_OPTION_INVALID, FRS_ERR_PROBLEM_TYPE_INVALID } from '../errors.js'
import { describeValue } from '../describe.js'
import { isAbsoluteUri, isErrorStatus } from './document.js'

/** A named problem type: its `type` URI is the registry's base plus the slug. */
export interface ProblemTypeDefinition {
  /** The stable `title` sent with every problem of this type. */
  title: string
  /** The HTTP status used when a problem of this type does not name one. */
  status: number
  /** What the type means and what a client should do; shown in documentation only. */
  description?: string
}

// Tied to the interface as the plugins' key lists are (test/types/option-keys.test-d.ts).
export const PROBLEM_TYPE_KEYS = ['title', 'status', 'description'] as const satisfies ReadonlyArray<keyof ProblemTypeDefinition>

const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/
const MAX_SLUG_LENGTH = 64

/**
 * The problem types this library itself produces. Their slugs are part of
 * the public contract: clients may branch on the resulting `type` URIs.
 */
export const BUILT_IN_PROBLEM_TYPES: Readonly<Record<string, ProblemTypeDefinition>> = Object.freeze({
  'validation-failed': {
    title: 'Request validation failed',
    status: 400,
    description: 'A part of the request (body, querystring, params or headers) does not match the route schema; `errors` lists each violation with a JSON pointer.',
  },
})

/**
 * Maps problem type slugs to stable `type` URIs, titles and default statuses.
 * One registry serves one encapsulation context of the application.
 */
export class ProblemTypeRegistry {
  readonly base: string
  readonly #types = new Map<string, Readonly<ProblemTypeDefinition>>()

  constructor (base: string) {
    if (typeof base !== 'string' || !isAbsoluteUri(base)) {
      throw new FRS_ERR_OPTION_INVALID('problemDetails.typeBase', 'an absolute URI such as "https://errors.example.com/problems/"', describeValue(base))
    }
    this.base = base
  }

  /**
   * Registers a slug. Registering the same slug again with an identical
   * definition is a no-op, so plugins may declare the types they use; a
   * conflicting definition throws.
   */
  register (slug: string, definition: ProblemTypeDefinition): void {
    if (typeof slug !== 'string' || slug.length > MAX_SLUG_LENGTH || !SLUG.test(slug)) {
      throw new FRS_ERR_PROBLEM_TYPE_INVALID(String(slug), `a slug is lowercase letters, digits and single dashes, at most ${MAX_SLUG_LENGTH} characters`)
    }
    if (definition === null || typeof definition !== 'object') {
      throw new FRS_ERR_PROBLEM_TYPE_INVALID(slug, `expected an object { title, status }, instead got ${describeValue(definition)}`)
    }
    if (typeof definition.title !== 'string' || definition.title.trim() === '') {
      throw new FRS_ERR_PROBLEM_TYPE_INVALID(slug, `title expects a non-empty string, instead got ${describeValue(definition.title)}`)
    }
    if (!isErrorStatus(definition.status)) {
      throw new FRS_ERR_PROBLEM_TYPE_INVALID(slug, `status expects an integer from 400 to 599, instead got ${describeValue(definition.status)}`)
    }
    if (definition.description !== undefined && typeof definition.description !== 'string') {
      throw new FRS_ERR_PROBLEM_TYPE_INVALID(slug, `description expects a string, instead got ${describeValue(definition.description)}`)
    }
    const existing = this.#types.get(slug)
    if (existing !== undefined) {
      if (existing.title === definition.title && existing.status === definition.status) return
      throw new FRS_ERR_PROBLEM_TYPE_INVALID(slug, `it is already registered as ${existing.status} "${existing.title}"`)
    }
    const stored: ProblemTypeDefinition = { title: definition.title, status: definition.status }
    if (definition.description !== undefined) stored.description = definition.description
    this.#types.set(slug, Object.freeze(stored))
  }

  /** The definition registered under `slug`, if any. */
  get (slug: string): Readonly<ProblemTypeDefinition> | undefined {
    return this.#types.get(slug)
  }

  /** The `type` URI of a registered slug: `typeBase` followed by the slug. */
  uri (slug: string): string {
    return this.base + slug
  }

  /** Every registered type with its URI, for documentation and status pages. */
  list (): Array<Readonly<ProblemTypeDefinition> & { slug: string, type: string }> {
    return [...this.#types].map(([slug, definition]) => ({ slug, type: this.uri(slug), ...definition }))
  }
}
