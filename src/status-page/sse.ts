/**
 * One Server-Sent Events message. Data is JSON on one line (JSON.stringify
 * never emits a raw newline), so it needs a single `data:` field.
 */
export function sseMessage (event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

/** Tells EventSource how long to wait before reconnecting, in milliseconds. */
export function sseRetry (ms: number): string {
  return `retry: ${ms}\n\n`
}
