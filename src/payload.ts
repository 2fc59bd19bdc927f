/** True for a readable stream handed to `reply.send()`: something with `pipe()`. */
export function isStream (value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { pipe?: unknown }).pipe === 'function'
}
