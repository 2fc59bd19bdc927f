/**
 * Describes a received value for an error message, in the style
 * "a 'string' (\"abc\")", so a user can see both the type and the value
 * that a check refused.
 */
export function describeValue (value: unknown): string {
  if (value === null) return "'null'"
  if (value === undefined) return "'undefined'"
  if (Array.isArray(value)) return "an 'array'"
  const kind = typeof value
  if (kind === 'number' || kind === 'boolean' || kind === 'bigint') return `a '${kind}' (${String(value)})`
  if (kind === 'string') {
    const text = value as string
    const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text
    return `a 'string' (${JSON.stringify(shown)})`
  }
  return kind === 'object' ? "an 'object'" : `a '${kind}'`
}
