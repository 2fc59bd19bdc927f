/** True for a Node readable stream handed to `reply.send()`: something with `pipe()`. */
export function isStream (value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { pipe?: unknown }).pipe === 'function'
}

const objectTag = Object.prototype.toString

/**
 * The stream a payload's body is read from while it is sent, or undefined
 * for a body sent at once: a Node readable (`pipe()`), a web
 * ReadableStream (`getReader()`), or the body of a fetch Response, the
 * three that Fastify 5 streams, told apart as Fastify tells them. A
 * Response without a body is sent at once. Strings, the usual payload,
 * leave at the first test.
 */
export function streamedBody (value: unknown): object | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  if (typeof (value as { pipe?: unknown }).pipe === 'function') return value
  if (typeof (value as { getReader?: unknown }).getReader === 'function') return value
  if (objectTag.call(value) !== '[object Response]') return undefined
  return (value as { body: ReadableStream | null }).body ?? undefined
}

/**
 * Gives up on a stream nobody will read, which would otherwise hold its
 * file, socket or producer: a Node stream is destroyed, a web stream (or a
 * Response's body) cancelled.
 */
export function discardStream (body: object): void {
  const stream = body as { destroy?: () => void, cancel?: () => Promise<void>, locked?: boolean }
  if (typeof stream.destroy === 'function') {
    stream.destroy()
    return
  }
  // A locked stream has a reader already, which owns its fate.
  if (typeof stream.cancel === 'function' && stream.locked !== true) stream.cancel().catch(() => {})
}

/** Lets go of the stream in an answer nobody will send, if it has one: it would hold its file, socket or producer. */
export function discardStreamIn (answer: unknown): void {
  const body = streamedBody(answer)
  if (body !== undefined) discardStream(body)
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
