import { createHash } from 'node:crypto'

/**
 * What separates the keys of calls made with different credentials, or
 * asking for different representations: a hash of the headers `names`
 * the call carries ('' without any), so that one user's answer is never
 * shared with or kept for another, a caller asking for CSV is never handed
 * JSON, and no credential is held in clear in a key.
 */
export function headersPart (sent: Headers | undefined, names: readonly string[]): string {
  if (sent === undefined) return ''
  let hash: ReturnType<typeof createHash> | undefined
  for (const name of names) {
    const value = sent.get(name)
    if (value === null) continue
    hash ??= createHash('sha256')
    hash.update(`${name}\0${value}\0`)
  }
  return hash === undefined ? '' : ` ${hash.digest('base64url')}`
}
