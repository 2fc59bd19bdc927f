/** One schema violation, as an entry of a problem's `errors` extension. */
export interface ValidationIssue {
  /** The validated part of the request: `body`, `querystring`, `params` or `headers`. */
  location: string
  /** An RFC 6901 JSON pointer into that part; `""` is the part itself. */
  pointer: string
  /** What is wrong there, in the validator's words. */
  detail: string
  /** The schema keyword that failed, such as `required` or `minimum`. */
  keyword?: string
}

/** The fields of an Ajv error (and of validators that mimic it, TypeBox's and fastify-type-provider-zod's) this mapping reads. */
export interface ValidationErrorLike {
  instancePath?: unknown
  keyword?: unknown
  params?: unknown
  message?: unknown
}

/** Escapes one reference token of a JSON pointer (RFC 6901 §3). */
export function escapePointerToken (token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}

// A missing or extra property is reported at its parent object, with its
// name in a parameter; the pointer must name the property itself so a
// client can highlight the right field. Ajv names one property
// (`missingProperty`); TypeBox lists every one in an array
// (`requiredProperties`), and zod its unrecognized keys (`keys`): each
// becomes an entry of its own.
const PROPERTY_PARAMS: Readonly<Record<string, readonly string[]>> = {
  required: ['missingProperty', 'requiredProperties'],
  dependentRequired: ['missingProperty'],
  dependencies: ['missingProperty'],
  additionalProperties: ['additionalProperty', 'additionalProperties'],
  unevaluatedProperties: ['unevaluatedProperty', 'unevaluatedProperties'],
  propertyNames: ['propertyName', 'propertyNames'],
  unrecognized_keys: ['keys'],
}

// fastify-type-provider-zod marks its errors with this symbol. Its
// instancePath is not a JSON pointer: it is "/" and zod's path joined with
// "/", unescaped, so member "a/b" and member "b" of member "a" read alike.
const ZOD_ERROR = Symbol.for('ZodFastifySchemaValidationError')

// Reading a zod path looks member names up in the validated value; a value
// crafted with many names that are prefixes of one another could make that
// quadratic in the path's length, so past this many characters looked up
// the path is read as written.
const ZOD_PATH_LOOKUP_BUDGET = 65_536

/**
 * The `errors` entries of a validation failure, in the validator's order.
 * `value` is the part of the request that was validated, against which a
 * path that is not a JSON pointer (zod's) is read.
 */
export function toValidationIssues (validation: readonly unknown[], location: string, value?: unknown): ValidationIssue[] {
  return validation.flatMap((entry) => issuesOf(entry, location, value))
}

/** The entries of one validation error: one per property it names, or one at its own place. */
function issuesOf (entry: unknown, location: string, value: unknown): ValidationIssue[] {
  const error: ValidationErrorLike = typeof entry === 'object' && entry !== null ? entry : {}
  const keyword = typeof error.keyword === 'string' ? error.keyword : undefined
  const properties = namedProperties(error.params, keyword)
  const pointer = pointerOfError(error, value, properties)
  const pointers = properties.length === 0 ? [pointer] : properties.map((property) => pointer + '/' + escapePointerToken(property))
  const detail = typeof error.message === 'string' ? error.message : 'is invalid'
  return pointers.map((each) => {
    const issue: ValidationIssue = { location, pointer: each, detail }
    if (keyword !== undefined) issue.keyword = keyword
    return issue
  })
}

/** Where the error is: Ajv's and TypeBox's instancePath is a JSON pointer already, zod's path is read against the value. */
function pointerOfError (error: ValidationErrorLike, value: unknown, properties: readonly string[]): string {
  if (isZodError(error)) return pointerOf(zodPathMembers(error.instancePath, value, properties))
  return isPointer(error.instancePath) ? error.instancePath : ''
}

function isPointer (path: unknown): path is string {
  return typeof path === 'string' && (path === '' || path.startsWith('/'))
}

/** The properties a missing- or extra-property error names: none for other errors, or when the names are not strings. */
function namedProperties (params: unknown, keyword: string | undefined): string[] {
  const names = keyword === undefined ? undefined : PROPERTY_PARAMS[keyword]
  if (names === undefined || typeof params !== 'object' || params === null) return []
  for (const name of names) {
    const value = (params as Record<string, unknown>)[name]
    if (typeof value === 'string') return [value]
    if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string')
  }
  return []
}

/** Builds a JSON pointer from the members of a path (RFC 6901 §3). */
function pointerOf (members: readonly string[]): string {
  return members.map((member) => '/' + escapePointerToken(member)).join('')
}

function isZodError (error: object): boolean {
  return (error as Record<symbol, unknown>)[ZOD_ERROR] === true
}

/** What a search along a zod path is after, and what it may still spend. */
interface PathSearch {
  /** Whether the path's last member may be one the value does not have (a missing property). */
  lastMayBeMissing: boolean
  /** Whether the path may end at this node: it holds the properties the error names. */
  endsAt: (node: unknown) => boolean
  /** Characters of member names the search may still look up. */
  budget: number
}

/**
 * The members of a zod path, told apart by the value zod validated: every
 * member but a missing last one is in it. A path through members the value
 * has is preferred to one that ends at a missing property. Without the
 * value, or past the budget, the path is read as written, split at each
 * "/". The path "/" is the value itself, unless the value has a member `""`.
 */
function zodPathMembers (path: unknown, value: unknown, properties: readonly string[]): string[] {
  if (typeof path !== 'string' || !path.startsWith('/')) return []
  const joined = path.slice(1)
  if (value === undefined) return joined === '' ? [] : joined.split('/')
  const endsAt = (node: unknown): boolean => properties.every((property) => hasMember(node, property))
  const search: PathSearch = { lastMayBeMissing: false, endsAt, budget: ZOD_PATH_LOOKUP_BUDGET }
  const present = membersAlong(value, joined, search)
  if (present !== undefined) return present
  if (joined === '') return []
  search.lastMayBeMissing = true
  return membersAlong(value, joined, search) ?? joined.split('/')
}

/**
 * The members along `joined` from `node`, shortest names first, or
 * `undefined` when the node has none that lead to the end of the path.
 */
function membersAlong (node: unknown, joined: string, search: PathSearch): string[] | undefined {
  if (typeof node !== 'object' || node === null) return search.lastMayBeMissing ? [joined] : undefined
  for (let end = joined.indexOf('/'); ; end = joined.indexOf('/', end + 1)) {
    const isLast = end === -1
    const name = isLast ? joined : joined.slice(0, end)
    search.budget -= name.length + 1
    if (search.budget < 0) return undefined
    if (Object.hasOwn(node, name)) {
      const child = (node as Record<string, unknown>)[name]
      if (isLast && search.endsAt(child)) return [name]
      const rest = isLast ? undefined : membersAlong(child, joined.slice(end + 1), search)
      if (rest !== undefined) return [name, ...rest]
    }
    if (isLast) return search.lastMayBeMissing ? [joined] : undefined
  }
}

function hasMember (node: unknown, name: string): boolean {
  return typeof node === 'object' && node !== null && Object.hasOwn(node, name)
}
