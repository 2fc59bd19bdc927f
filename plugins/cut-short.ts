import { constants } from 'node:http2'
import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'

/**
 * Ends a response that cannot be finished (its head is written, or the
 * connection is to be dropped on purpose) so that the client sees it as
 * broken. Over HTTP/1.1 that is destroying the socket. Over HTTP/2,
 * destroying the response resets its stream with NO_ERROR, which clients
 * read as a complete answer: a cut body would pass for the whole one. The
 * stream is reset with INTERNAL_ERROR instead, which every client reports
 * as a stream error; the connection and its other streams live on.
 */
export function cutShort (raw: ServerResponse | Http2ServerResponse): void {
  const stream = (raw as Partial<Http2ServerResponse>).stream
  if (stream === undefined) {
    raw.destroy()
    return
  }
  if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR)
}
