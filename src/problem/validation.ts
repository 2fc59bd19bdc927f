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

/** The fields of an Ajv error (and of validators that mimic it) this mapping reads. */
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
// (`requiredProperties`), and each becomes an entry of its own.
const PROPERTY_PARAMS: Readonly<Record<string, readonly string[]>> = {
  required: ['missingProperty', 'requiredProperties'],
  dependentRequired: ['missingProperty'],
  dependencies: ['missingProperty'],
  additionalProperties: ['additionalProperty', 'additionalProperties'],
  unevaluatedProperties: ['unevaluatedProperty', 'unevaluatedProperties'],
  propertyNames: ['propertyName', 'propertyNames'],
}

/** The `errors` entries of a validation failure, in the validator's order. */
export function toValidationIssues (validation: readonly unknown[], location: string): ValidationIssue[] {
  return validation.flatMap((entry) => issuesOf(entry, location))
}

/** The entries of one validation error: one per property it names, or one at its own place. */
function issuesOf (entry: unknown, location: string): ValidationIssue[] {
  const error: ValidationErrorLike = typeof entry === 'object' && entry !== null ? entry : {}
  const pointer = isPointer(error.instancePath) ? error.instancePath : ''
  const keyword = typeof error.keyword === 'string' ? error.keyword : undefined
  const properties = namedProperties(error.params, keyword)
  const pointers = properties.length === 0 ? [pointer] : properties.map((property) => pointer + '/' + escapePointerToken(property))
  const detail = typeof error.message === 'string' ? error.message : 'is invalid'
  return pointers.map((each) => {
    const issue: ValidationIssue = { location, pointer: each, detail }
    if (keyword !== undefined) issue.keyword = keyword
    return issue
  })
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
