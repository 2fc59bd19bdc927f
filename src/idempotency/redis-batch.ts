/*
 * Store calls made in one turn of the event loop, sent to Redis together.
 * Each call is a write to the Redis socket, and on a busy server that
 * write (a system call, and on loopback the receiving side's work too) is
 * most of what a call costs: twenty requests whose keys are claimed in one
 * turn make one write instead of twenty. The batch goes at the end of the
 * turn (atEndOfTurn), after every request read in it had its turn.
 * ioredis's own `enableAutoPipelining` does the same, but it is an option
 * of the client, and the client belongs to the application: the store
 * batches its own calls whatever the client was built with.
 */

import { atEndOfTurn } from '../end-of-turn.js'

/** How ioredis answers a command given a callback: an error, or null and the reply. */
export type Callback = (error: Error | null, value?: unknown) => void

/** A client or pipeline: the methods defineCommand added, called by name. */
type Target = Record<string, (...args: unknown[]) => unknown>

interface Pending {
  command: string
  args: unknown[]
  callback: Callback
}

interface Pipeline extends Target {
  exec: () => Promise<unknown>
}

export class RedisBatch {
  readonly #client: Target & { pipeline: () => Pipeline }
  #pending: Pending[] | undefined
  readonly #flushAtEndOfTurn = (): void => { this.flush() }

  constructor (client: unknown) {
    this.#client = client as Target & { pipeline: () => Pipeline }
  }

  /**
   * Calls `command` (a defined script) with `args` in this turn's batch;
   * `callback` gets its reply. A callback rather than a promise: the store
   * makes the one promise its caller sees.
   */
  call (command: string, args: unknown[], callback: Callback): void {
    if (this.#pending === undefined) {
      this.#pending = []
      atEndOfTurn(this.#flushAtEndOfTurn)
    }
    this.#pending.push({ command, args, callback })
  }

  flush (): void {
    const pending = this.#pending ?? []
    this.#pending = undefined
    const client = this.#client
    if (pending.length === 1) {
      // Alone in its turn: a pipeline would only add its own cost.
      const { command, args, callback } = pending[0] as Pending
      callScript(client, command, args, callback)
      return
    }
    try {
      const pipeline = client.pipeline()
      // The command's own callback, not exec()'s results: ioredis answers
      // it after reloading a script the server forgot (NOSCRIPT).
      for (const { command, args, callback } of pending) scriptOf(pipeline, command).call(pipeline, ...args, callback)
      // Each call learns its outcome from its callback; exec() only sends.
      pipeline.exec().catch(ignore)
    } catch (error) {
      for (const { callback } of pending) callback(error as Error)
    }
  }
}

/** Calls a defined script on a client at once; a synchronous throw reaches the callback too. */
export function callScript (client: Target, command: string, args: unknown[], callback: Callback): void {
  try {
    scriptOf(client, command).call(client, ...args, callback)
  } catch (error) {
    callback(error as Error)
  }
}

/**
 * The method defineCommand added for `command`. Missing, it throws: a call
 * that nothing sends would never call back, and its request would wait for
 * the store's timeout instead of failing at once.
 */
function scriptOf (target: Target, command: string): (...args: unknown[]) => unknown {
  const script = target[command]
  if (typeof script !== 'function') throw new TypeError(`the Redis client has no command ${command}: it was not defined on this client`)
  return script
}

function ignore (): void {}
