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

// Ajv reports a missing or extra property at its parent object; the pointer
// must name the property itself so a client can highlight the right field.
const PROPERTY_PARAM: Readonly<Record<string, string>> = {
  required: 'missingProperty',
  dependentRequired: 'missingProperty',
  dependencies: 'missingProperty',
  additionalProperties: 'additionalProperty',
  unevaluatedProperties: 'unevaluatedProperty',
  propertyNames: 'propertyName',
}

export function toValidationIssues (validation: readonly unknown[], location: string): ValidationIssue[] {
  return validation.map((entry) => toValidationIssue(entry, location))
}

function toValidationIssue (entry: unknown, location: string): ValidationIssue {
  const error: ValidationErrorLike = typeof entry === 'object' && entry !== null ? entry : {}
  let pointer = typeof error.instancePath === 'string' && (error.instancePath === '' || error.instancePath.startsWith('/'))
    ? error.instancePath
    : ''
  const keyword = typeof error.keyword === 'string' ? error.keyword : undefined
  const paramName = keyword === undefined ? undefined : PROPERTY_PARAM[keyword]
  if (paramName !== undefined && typeof error.params === 'object' && error.params !== null) {
    const property = (error.params as Record<string, unknown>)[paramName]
    if (typeof property === 'string') pointer += '/' + escapePointerToken(property)
  }
  const issue: ValidationIssue = {
    location,
    pointer,
    detail: typeof error.message === 'string' ? error.message : 'is invalid',
  }
  if (keyword !== undefined) issue.keyword = keyword
  return issue
}
