// RFC 9110 §5.1: a field name is a token, one or more of these characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Whether `name` is an HTTP header (field) name, an RFC 9110 token. Node
 * refuses any other name, in a request as in an answer, so an option
 * naming one would read or write nothing.
 */
export function isHeaderName (name: unknown): name is string {
  return typeof name === 'string' && TOKEN.test(name)
}

/** How the option errors word what a header name must be. */
export const HEADER_NAME_EXPECTED = "an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"
