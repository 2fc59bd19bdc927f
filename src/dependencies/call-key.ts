import { createHash } from 'node:crypto'

/**
 * What separates the keys of calls made with different credentials: a
 * hash of the credential headers `init` carries ('' without any), so that
 * one user's answer is never shared with or kept for another, and no
 * credential is held in clear in a key.
 */
export function credentialsPart (headers: RequestInit['headers'], names: readonly string[]): string {
  if (headers === undefined) return ''
  const sent = new Headers(headers)
  let hash: ReturnType<typeof createHash> | undefined
  for (const name of names) {
    const value = sent.get(name)
    if (value === null) continue
    hash ??= createHash('sha256')
    hash.update(`${name}\0${value}\0`)
  }
  return hash === undefined ? '' : ` ${hash.digest('base64url')}`
}
