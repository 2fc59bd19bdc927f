import { atEndOfTurn } from '../end-of-turn.js'

/**
 * Collects items during one turn of the event loop and hands them over in
 * one batch at its end ({@link atEndOfTurn}). Deadlines are armed this way: most
 * requests finish within the turn they arrived in and then never need a
 * timer, a queue slot or a disconnect listener at all.
 */
export class EndOfTurnBatch<Item> {
  #items: Array<Item | undefined> = []
  #count = 0
  // Two arrays take turns and are never shortened (a length set to 0 drops
  // the backing store, which the next batch would grow again): a batch
  // allocates nothing, and clearing its slots keeps no item alive.
  #spare: Array<Item | undefined> = []
  #scheduled = false
  readonly #handle: (item: Item) => void
  // Made once, so that scheduling a flush allocates nothing.
  readonly #flush = (): void => { this.flush() }

  constructor (handle: (item: Item) => void) {
    this.#handle = handle
  }

  add (item: Item): void {
    this.#items[this.#count++] = item
    if (!this.#scheduled) {
      this.#scheduled = true
      atEndOfTurn(this.#flush)
    }
  }

  flush (): void {
    const items = this.#items
    const count = this.#count
    this.#items = this.#spare
    this.#spare = items
    this.#count = 0
    this.#scheduled = false
    try {
      for (let i = 0; i < count; i++) this.#handle(items[i] as Item)
    } finally {
      for (let i = 0; i < count; i++) items[i] = undefined
    }
  }
}
