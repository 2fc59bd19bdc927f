import { atEndOfTurn } from '../end-of-turn.js'

/**
 * Collects items during one turn of the event loop and hands them over in
 * one batch at its end ({@link atEndOfTurn}). Deadlines are armed this way: most
 * requests finish within the turn they arrived in and then never need a
 * timer, a queue slot or a disconnect listener at all.
 */
export class EndOfTurnBatch<Item> {
  #items: Item[] = []
  #spare: Item[] = []
  #scheduled = false
  readonly #handle: (item: Item) => void
  // Made once, so that scheduling a flush allocates nothing.
  readonly #flush = (): void => { this.flush() }

  constructor (handle: (item: Item) => void) {
    this.#handle = handle
  }

  add (item: Item): void {
    this.#items.push(item)
    if (!this.#scheduled) {
      this.#scheduled = true
      atEndOfTurn(this.#flush)
    }
  }

  flush (): void {
    const items = this.#items
    // Two arrays take turns, so a batch allocates nothing.
    this.#items = this.#spare
    this.#spare = items
    this.#scheduled = false
    try {
      for (const item of items) this.#handle(item)
    } finally {
      items.length = 0
    }
  }
}
