import { Buffer } from 'node:buffer'
import { describeValue } from '../describe.js'
import { FRS_ERR_IDEMPOTENCY_STORE_REPLY } from '../errors.js'
import type { ClaimOutcome } from './store.js'

/*
 * The Redis claim script answers with one string (redis-scripts.ts):
 * its first byte says the outcome, and a completed key's response follows
 * as status, '\n', headers as JSON, '\n', then the body's bytes as stored.
 * Neither the status nor the JSON (which escapes control characters) can
 * hold a '\n', so the first two split the three parts; the body, which
 * may, is all the rest. A record in a state the script does not know comes
 * back as 'U' and that state, and fails the claim like any record the
 * store cannot read.
 */

const ACQUIRED: ClaimOutcome = Object.freeze({ kind: 'acquired' })
const MISMATCH: ClaimOutcome = Object.freeze({ kind: 'mismatch' })

const NEWLINE = 0x0a
const OUTCOME_ACQUIRED = 0x41 // 'A'
const OUTCOME_MISMATCH = 0x4d // 'M'
const OUTCOME_IN_PROGRESS = 0x50 // 'P'
const OUTCOME_COMPLETED = 0x43 // 'C'
const OUTCOME_UNKNOWN_STATE = 0x55 // 'U'

/** Reads the claim script's reply; a reply it cannot read throws FRS_ERR_IDEMPOTENCY_STORE_REPLY. */
export function readClaimReply (reply: unknown): ClaimOutcome {
  if (!Buffer.isBuffer(reply) || reply.length === 0) throw unexpected(reply)
  switch (reply[0]) {
    case OUTCOME_ACQUIRED:
      if (reply.length === 1) return ACQUIRED
      break
    case OUTCOME_MISMATCH:
      if (reply.length === 1) return MISMATCH
      break
    case OUTCOME_IN_PROGRESS: {
      const pttl = Number(reply.toString('latin1', 1))
      // A key without an expiry answers PTTL -1: no hint, retry at once.
      if (reply.length > 1 && Number.isInteger(pttl)) return { kind: 'in-progress', retryAfterMs: Math.max(0, pttl) }
      break
    }
    case OUTCOME_COMPLETED:
      return readCompleted(reply)
    case OUTCOME_UNKNOWN_STATE:
      throw new FRS_ERR_IDEMPOTENCY_STORE_REPLY(`a record whose state is ${describeValue(reply.toString('utf8', 1, Math.min(reply.length, 81)))}`)
  }
  throw unexpected(reply)
}

function readCompleted (reply: Buffer): ClaimOutcome {
  const statusEnd = reply.indexOf(NEWLINE, 1)
  const headersEnd = statusEnd === -1 ? -1 : reply.indexOf(NEWLINE, statusEnd + 1)
  if (headersEnd === -1) throw unexpected(reply)
  // A status is three digits, so its '\n' is the fifth byte.
  const status = Number(reply.toString('latin1', 1, statusEnd))
  if (statusEnd !== 4 || !Number.isInteger(status) || status < 100) throw unexpected(reply)
  let headers: unknown
  try {
    headers = JSON.parse(reply.toString('utf8', statusEnd + 1, headersEnd))
  } catch {
    throw unexpected(reply)
  }
  // Header values are strings, as they were stored: anything else would be
  // sent as whatever String() makes of it ('[object Object]').
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || !allStrings(headers as Record<string, unknown>)) throw unexpected(reply)
  return {
    kind: 'completed',
    response: { status, headers: headers as Record<string, string>, body: reply.subarray(headersEnd + 1) },
  }
}

function allStrings (headers: Record<string, unknown>): boolean {
  for (const name in headers) {
    if (typeof headers[name] !== 'string') return false
  }
  return true
}

function unexpected (reply: unknown): Error {
  const shown = Buffer.isBuffer(reply) ? reply.toString('latin1', 0, Math.min(reply.length, 80)) : reply
  return new FRS_ERR_IDEMPOTENCY_STORE_REPLY(describeValue(shown))
}
