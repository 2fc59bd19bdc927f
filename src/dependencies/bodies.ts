import { Buffer } from 'node:buffer'
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

type Settled = (failure?: { cause: unknown }) => unknown

const kSettled = Symbol('settled')
const kStream = Symbol('watched stream')

interface Watched extends Response {
  /** Called once, when the body ends; unset after. */
  [kSettled]: Settled | undefined
  [kStream]: ReadableStream<Uint8Array> | undefined
}

const plain = Response.prototype
const plainBody = (Object.getOwnPropertyDescriptor(plain, 'body')?.get ?? (() => null)) as (this: Response) => ReadableStream<Uint8Array> | null

/** Tells the watcher once: nothing for a body that ended, the cause for one that failed; answers the error to surface. */
function settle (response: Watched, failure?: { cause: unknown }): unknown {
  const settled = response[kSettled]
  response[kSettled] = undefined
  return settled === undefined ? failure?.cause : settled(failure)
}

/** A read that cannot start (the body was used or is locked) is the caller's mistake, not the dependency's. */
function unusable (response: Response): boolean {
  const body = plainBody.call(response)
  return body !== null && (response.bodyUsed || body.locked)
}

/** Reads with `read` (a body reader of Response, called on `response`), telling the watcher how the read ended. */
async function settling<T> (response: Watched, read: (this: Response) => Promise<T>): Promise<T> {
  if (unusable(response)) return await read.call(response)
  let value: T
  try {
    value = await read.call(response)
  } catch (cause) {
    throw settle(response, { cause })
  }
  settle(response)
  return value
}

/** Reads the original body for a reader of `response.body`, telling the watcher how it ends. */
function watchedStream (response: Watched): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined
  return new ReadableStream<Uint8Array>({
    async pull (controller) {
      let chunk: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>
      try {
        // Taken at the first read, so that looking at `response.body` leaves `response.json()` usable.
        reader ??= (plainBody.call(response) as ReadableStream<Uint8Array>).getReader()
        chunk = await reader.read()
      } catch (cause) {
        controller.error(settle(response, { cause }))
        return
      }
      if (chunk.done) {
        settle(response)
        controller.close()
      } else {
        controller.enqueue(chunk.value)
      }
    },
    async cancel (reason) {
      settle(response)
      await (reader ?? plainBody.call(response))?.cancel(reason)
    },
  }, { highWaterMark: 0 })
}

async function readBytes (this: Response): Promise<Uint8Array> {
  return new Uint8Array(await plain.arrayBuffer.call(this))
}

/**
 * The prototype of a watched Response: the body readers of Response,
 * each telling the watcher how the read ended. Swapping the prototype of
 * the Response fetch made costs nothing per call, where a Response over a
 * new stream costs a stream, a reader and a copy of every chunk.
 */
const watchedPrototype: object = Object.create(plain, {
  // Each reader hands on settling's promise rather than awaiting it in an
  // async function of its own: a layer less per read of every answer.
  arrayBuffer: { value: function arrayBuffer (this: Watched) { return settling(this, plain.arrayBuffer) } },
  blob: { value: function blob (this: Watched) { return settling(this, plain.blob) } },
  bytes: { value: function bytes (this: Watched) { return settling(this, readBytes) } },
  text: { value: function text (this: Watched) { return settling(this, plain.text) } },
  // Parsed after the read, so that a malformed body is a parse error and not the dependency's failure.
  json: { value: function json (this: Watched): Promise<unknown> { return settling(this, plain.text).then(JSON.parse) } },
  formData: {
    async value (this: Watched) {
      const bytes = await this.arrayBuffer()
      return await new Response(bytes, { headers: this.headers }).formData()
    },
  },
  body: {
    get (this: Watched) {
      if (plainBody.call(this) === null) return null
      this[kStream] ??= watchedStream(this)
      return this[kStream]
    },
  },
})

/**
 * The Response itself, telling `settled` when its body ends: read to the
 * end or cancelled by the reader, or failed (a connection reset
 * half-way), when the read fails with what `settled` makes of the cause
 * (the dependency's failure instead of a bare `TypeError: terminated`).
 */
export function watchBody (response: Response, settled: Settled): Response {
  if (response.body === null) return response
  const watched = response as Watched
  watched[kSettled] = settled
  watched[kStream] = undefined
  Object.setPrototypeOf(watched, watchedPrototype)
  return watched
}
