/*
 * Store calls made in one turn of the event loop, sent to Redis together.
 * Each call is a write to the Redis socket, and on a busy server that
 * write (a system call, and on loopback the receiving side's work too) is
 * most of what a call costs: twenty requests whose keys are claimed in one
 * turn make one write instead of twenty. The batch goes at the end of the
 * turn (atEndOfTurn), after every request read in it had its turn, its
 * calls written to the client's socket while it is corked, so that they
 * leave in one write.
 *
 * A call is EVALSHA, sent with ioredis' own `evalsha` command, and EVAL
 * (which loads the script again) when Redis has forgotten the script
 * (NOSCRIPT, after a restart or a SCRIPT FLUSH). ioredis' defineCommand
 * and pipeline do the same, at the cost of about 1 KB more of objects per
 * call (a command class of their own, more promises, a copy of every
 * script the client knows on each pipeline; bench/dev/allocations.ts). The
 * batch is the store's own, whatever the client was built with: ioredis'
 * option `enableAutoPipelining` belongs to the application.
 */

import { createHash } from 'node:crypto'
import { atEndOfTurn } from '../end-of-turn.js'

/** How ioredis answers a command given a callback: an error, or null and the reply. */
export type Callback = (error: Error | null, value?: unknown) => void

/** A Lua script with one key, and how its reply is read. */
export interface LuaScript {
  readonly lua: string
  readonly sha: string
  /** The reply as bytes (a Buffer) instead of text. */
  readonly binary: boolean
}

export function luaScript (lua: string, binary = false): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex'), binary }
}

type Command = (...args: unknown[]) => unknown

/** The parts of an ioredis client (or cluster) a batch uses. */
interface ScriptClient {
  evalsha: Command
  evalshaBuffer: Command
  eval: Command
  evalBuffer: Command
  /** The connection's socket; a cluster has none of its own. */
  stream?: { writable: boolean, cork: () => void, uncork: () => void }
}

interface Pending {
  script: LuaScript
  args: unknown[]
  callback: Callback
}

export class RedisBatch {
  readonly #client: ScriptClient
  /** A cluster spreads keys over its nodes: its calls go at once, one by one. */
  readonly #batched: boolean
  #pending: Pending[] | undefined
  readonly #flushAtEndOfTurn = (): void => { this.flush() }

  constructor (client: unknown, batched: boolean) {
    this.#client = client as ScriptClient
    this.#batched = batched
  }

  /**
   * Runs `script` on its key and `args` (KEYS[1] first) in this turn's
   * batch; `callback` gets its reply. A callback rather than a promise:
   * the store makes the one promise its caller sees.
   */
  call (script: LuaScript, args: unknown[], callback: Callback): void {
    if (!this.#batched) {
      runScript(this.#client, script, args, callback)
      return
    }
    if (this.#pending === undefined) {
      this.#pending = []
      atEndOfTurn(this.#flushAtEndOfTurn)
    }
    this.#pending.push({ script, args, callback })
  }

  flush (): void {
    const pending = this.#pending ?? []
    this.#pending = undefined
    const client = this.#client
    const stream = pending.length > 1 && client.stream?.writable === true ? client.stream : undefined
    stream?.cork()
    try {
      for (const { script, args, callback } of pending) runScript(client, script, args, callback)
    } finally {
      stream?.uncork()
    }
  }
}

/** Runs a script by its hash, loading it again if Redis forgot it; a synchronous throw reaches the callback too. */
function runScript (client: ScriptClient, script: LuaScript, args: unknown[], callback: Callback): void {
  try {
    commandOf(client, script.binary ? 'evalshaBuffer' : 'evalsha').call(client, script.sha, 1, ...args, (error: Error | null, reply?: unknown) => {
      if (error === null || !isNoScript(error)) {
        callback(error, reply)
        return
      }
      try {
        commandOf(client, script.binary ? 'evalBuffer' : 'eval').call(client, script.lua, 1, ...args, callback)
      } catch (evalError) {
        callback(evalError as Error)
      }
    })
  } catch (error) {
    callback(error as Error)
  }
}

/**
 * One of the client's commands. Missing (a client another library altered,
 * or not an ioredis one), it throws: a call that nothing sends would never
 * call back, and its request would wait for the store's timeout instead of
 * failing at once.
 */
function commandOf (client: ScriptClient, name: 'evalsha' | 'evalshaBuffer' | 'eval' | 'evalBuffer'): Command {
  const command = client[name]
  if (typeof command !== 'function') throw new TypeError(`the Redis client has no command ${name}`)
  return command
}

function isNoScript (error: Error): boolean {
  return typeof error.message === 'string' && error.message.startsWith('NOSCRIPT')
}
