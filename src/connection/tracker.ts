import type { Socket } from 'node:net'

type TrackedSocket<Item> = Socket & Record<symbol, Set<Item> | undefined>

/**
 * Knows what is in flight on each HTTP/1 connection, with one 'close'
 * listener per connection rather than one per request: over HTTP/1 a
 * client can abandon a request only by closing its connection, and a
 * keep-alive connection carries many requests.
 */
export class ConnectionTracker<Item> {
  readonly #key = Symbol('fastify-resilience.in-flight')
  readonly #onClose: (item: Item) => void
  readonly #handleClose: (this: Socket) => void

  /** `onClose(item)` runs for every item still tracked when its connection closes. */
  constructor (onClose: (item: Item) => void) {
    this.#onClose = onClose
    const key = this.#key
    this.#handleClose = function handleConnectionClose (this: Socket) {
      const socket = this as TrackedSocket<Item>
      const items = socket[key]
      socket[key] = undefined
      if (items !== undefined) for (const item of items) onClose(item)
    }
  }

  add (socket: Socket, item: Item): void {
    if (socket.destroyed) {
      this.#onClose(item)
      return
    }
    const tracked = socket as TrackedSocket<Item>
    let items = tracked[this.#key]
    if (items === undefined) {
      items = new Set()
      tracked[this.#key] = items
      socket.once('close', this.#handleClose)
    }
    items.add(item)
  }

  delete (socket: Socket, item: Item): void {
    (socket as TrackedSocket<Item>)[this.#key]?.delete(item)
  }

  /** How many items are tracked on a connection. */
  count (socket: Socket): number {
    return (socket as TrackedSocket<Item>)[this.#key]?.size ?? 0
  }
}
