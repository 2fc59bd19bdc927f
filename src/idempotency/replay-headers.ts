/*
 * Which stored response headers a replay sends. They are chosen when the
 * answer is stored and chosen again when it is replayed: a store outside
 * the process may hold a record written under another allow-list (an
 * earlier deploy with other `replayHeaders`) or by anything else with
 * write access to it, and what it holds is replayed to whoever sends the
 * key next.
 */

/**
 * Never stored, never replayed, never allowed in `replayHeaders`: a replay
 * must not hand one caller's credentials or session to another request.
 */
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'set-cookie', 'cookie', 'set-cookie2', 'cookie2', 'www-authenticate', 'proxy-authenticate'])

/** Whether a header carries credentials or a session (`name` in lower case). */
export function isCredentialHeader (name: string): boolean {
  return CREDENTIAL_HEADERS.has(name)
}

/**
 * The names a replay may send, in lower case: the allow-list and the
 * headers that mark an answer degraded, credentials left out whichever
 * list names them.
 */
export function replayableNames (allowed: Iterable<string>, marks: Iterable<string> = []): ReadonlySet<string> {
  const names = new Set<string>()
  for (const list of [allowed, marks]) {
    for (const name of list) {
      const lower = name.toLowerCase()
      if (!isCredentialHeader(lower)) names.add(lower)
    }
  }
  return names
}

/**
 * The stored headers a replay sends: those `replayable` names, under their
 * lower-case names. `headers` itself when every name is one, as it is for
 * every record stored under the same allow-list, so that such a replay
 * copies nothing.
 */
export function replayableHeaders (headers: Readonly<Record<string, string>>, replayable: ReadonlySet<string>): Readonly<Record<string, string>> {
  for (const name in headers) {
    if (!replayable.has(name)) return onlyReplayable(headers, replayable)
  }
  return headers
}

function onlyReplayable (headers: Readonly<Record<string, string>>, replayable: ReadonlySet<string>): Record<string, string> {
  const kept: Record<string, string> = {}
  for (const name in headers) {
    const lower = name.toLowerCase()
    if (replayable.has(lower)) kept[lower] = headers[name] as string
  }
  return kept
}
