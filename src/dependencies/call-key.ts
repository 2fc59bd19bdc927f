import { createHash } from 'node:crypto'

/**
 * What separates the keys of calls made with different credentials: a
 * hash of the credential headers the call carries ('' without any), so that
 * one user's answer is never shared with or kept for another, and no
 * credential is held in clear in a key.
 */
export function credentialsPart (sent: Headers | undefined, names: readonly string[]): string {
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
