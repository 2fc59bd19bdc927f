import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'

/**
 * Calls `closed` once the response has closed: at once if it has already,
 * since a `close` listener added then would never hear it (a value read
 * from a timer the handler left, or a client gone while slower onSend
 * hooks ran), or at its `close` event.
 */
export function onResponseClosed (raw: ServerResponse | Http2ServerResponse, closed: () => void): void {
  if (hasClosed(raw)) closed()
  else raw.once('close', closed)
}

function hasClosed (raw: ServerResponse | Http2ServerResponse): boolean {
  const stream = (raw as Partial<Http2ServerResponse>).stream
  if (stream === undefined) return (raw as ServerResponse).destroyed || (raw as ServerResponse).writableFinished
  return stream.destroyed || stream.closed
}
