import { Buffer } from 'node:buffer'
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'

/**
 * The content codings an answer may arrive in at this plugin's `onSend`
 * (a compression plugin registered before it), and how to undo each: the
 * store keeps what the handler answered, and a replay goes through the
 * `onSend` hooks again, where the compression plugin encodes it for the
 * retry's own Accept-Encoding. Undone, not kept as they are: a replay
 * with another client's coding, or none, is bytes the retry cannot read.
 */
const DECODERS: Readonly<Record<string, (bytes: Buffer, options: { maxOutputLength: number }) => Buffer>> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
}

/** The payload as it was before its content coding, within `maxBytes`; undefined for a coding it cannot undo or bytes that are not in it. */
export function decodedBody (payload: string | Buffer, coding: string, maxBytes: number): Buffer | undefined {
  const decode = DECODERS[coding.trim().toLowerCase()]
  if (decode === undefined) return undefined
  try {
    // The decoded size is bounded as the stored body is: a small body
    // that inflates to gigabytes must not be inflated here.
    return decode(Buffer.isBuffer(payload) ? payload : Buffer.from(payload), { maxOutputLength: Math.max(maxBytes, 1) })
  } catch {
    return undefined
  }
}
