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

type Callback = (error: Error | null, value?: unknown) => void

/** A client or pipeline: the methods defineCommand added, called by name. */
type Target = Record<string, (...args: unknown[]) => unknown>

interface Pending {
  command: string
  args: unknown[]
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
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

  /** Calls `command` (a defined script) with `args` in this turn's batch. */
  call<T> (command: string, args: unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#pending === undefined) {
        this.#pending = []
        atEndOfTurn(this.#flushAtEndOfTurn)
      }
      this.#pending.push({ command, args, resolve: resolve as (value: unknown) => void, reject })
    })
  }

  flush (): void {
    const pending = this.#pending ?? []
    this.#pending = undefined
    const client = this.#client
    if (pending.length === 1) {
      // Alone in its turn: a pipeline would only add its own cost.
      const { command, args, resolve, reject } = pending[0] as Pending
      try {
        (client[command]?.(...args) as Promise<unknown>).then(resolve, reject)
      } catch (error) {
        reject(error)
      }
      return
    }
    try {
      const pipeline = client.pipeline()
      for (const { command, args, resolve, reject } of pending) {
        // The command's own callback, not exec()'s results: ioredis answers
        // it after reloading a script the server forgot (NOSCRIPT).
        const done: Callback = (error, value) => { if (error === null) resolve(value); else reject(error) }
        pipeline[command]?.(...args, done)
      }
      // Each call learns its outcome from its callback; exec() only sends.
      pipeline.exec().catch(ignore)
    } catch (error) {
      for (const { reject } of pending) reject(error)
    }
  }
}

function ignore (): void {}
