/** True for a readable stream handed to `reply.send()`: something with `pipe()`. */
export function isStream (value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { pipe?: unknown }).pipe === 'function'
}

/**
 * Whether a request's headers announce a body: a Transfer-Encoding (Node
 * reads a chunked body whatever its length), or a Content-Length other
 * than zero. Node refuses a malformed Content-Length before any hook runs.
 */
export function carriesBody (headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  if (headers['transfer-encoding'] !== undefined) return true
  const length = headers['content-length']
  return typeof length === 'string' && length !== '' && length !== '0' && Number(length) !== 0
}
