/** Copies handed to a reader of a shared body are this large at most, made as it reads. */
const CHUNK_BYTES = 64 * 1024

/**
 * A body over bytes shared by many callers: nothing is copied until the
 * caller reads, then one chunk at a time, so a caller can never change
 * what the others read, and callers that hold their Response without
 * reading cost nothing.
 */
export function sharedBody (bytes: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream<Uint8Array>({
    pull (controller) {
      if (offset >= bytes.byteLength) {
        controller.close()
        return
      }
      const end = Math.min(offset + CHUNK_BYTES, bytes.byteLength)
      controller.enqueue(bytes.slice(offset, end))
      offset = end
    },
  }, { highWaterMark: 0 })
}

/** A Response over `body` with everything else of `response`, its url included. */
export function withBody (response: Response, body: ReadableStream<Uint8Array>): Response {
  const replaced = new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
  Object.defineProperty(replaced, 'url', { value: response.url })
  Object.defineProperty(replaced, 'redirected', { value: response.redirected })
  return replaced
}

/**
 * Reads a body up to `maxBytes`: its bytes, or, when it is longer, a
 * Response that streams what was read and then the rest.
 */
export async function readCapped (response: Response, maxBytes: number): Promise<Uint8Array | Response> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (response.body === null) return new Uint8Array(0)
  if (declared > maxBytes) return response
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const chunk = await reader.read()
    if (chunk.done) return chunks.length === 1 ? chunks[0] as Uint8Array : Buffer.concat(chunks, total)
    chunks.push(chunk.value)
    total += chunk.value.byteLength
    if (total > maxBytes) break
  }
  return withBody(response, new ReadableStream<Uint8Array>({
    async pull (controller) {
      const next = chunks.shift()
      if (next !== undefined) {
        controller.enqueue(next)
        return
      }
      const chunk = await reader.read()
      if (chunk.done) controller.close()
      else controller.enqueue(chunk.value)
    },
    async cancel (reason) { await reader.cancel(reason) },
  }, { highWaterMark: 0 }))
}

/**
 * A Response that tells `settled` when its body ends: read to the end or
 * cancelled by the reader, or failed (a connection reset half-way), when
 * it errors with what `settled` makes of the cause (the dependency's
 * failure instead of a bare `TypeError: terminated`).
 */
export function watchBody (response: Response, settled: (failure?: { cause: unknown }) => unknown): Response {
  if (response.body === null) return response
  const reader = response.body.getReader()
  return withBody(response, new ReadableStream<Uint8Array>({
    async pull (controller) {
      let chunk: Awaited<ReturnType<typeof reader.read>>
      try {
        chunk = await reader.read()
      } catch (cause) {
        controller.error(settled({ cause }))
        return
      }
      if (chunk.done) {
        settled()
        controller.close()
      } else {
        controller.enqueue(chunk.value)
      }
    },
    async cancel (reason) {
      settled()
      await reader.cancel(reason)
    },
  }, { highWaterMark: 0 }))
}
