/*
 * A Redis whose maxmemory-policy evicts keys drops them under memory
 * pressure, the store's among them: every key it writes has a TTL, so the
 * volatile-* policies take them as readily as the allkeys-* ones. A
 * dropped answer or claim is forgotten, and the retry runs its handler
 * again. The policy is read from INFO's text rather than with CONFIG GET,
 * which managed Redis services often disable.
 */

const FIELD = 'maxmemory_policy:'

/**
 * The `maxmemory_policy` field of an INFO reply (INFO's text: `# Section`
 * lines and `field:value` lines, ended by CRLF); undefined when the text
 * has no such field or leaves it empty.
 */
export function readMaxmemoryPolicy (info: string): string | undefined {
  // CR alone ends a line too: a value never holds a line break.
  for (const line of info.split(/\r\n?|\n/)) {
    if (!line.startsWith(FIELD)) continue
    const policy = line.slice(FIELD.length).trim()
    return policy === '' ? undefined : policy
  }
  return undefined
}

/**
 * Whether Redis may evict the store's keys under this policy: any policy
 * but `noeviction`, those a later Redis adds included, since only
 * `noeviction` promises to keep every key (Redis then refuses writes
 * instead).
 */
export function policyEvicts (policy: string): boolean {
  return policy !== 'noeviction'
}
