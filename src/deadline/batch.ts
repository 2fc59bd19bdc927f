/**
 * Collects items during one turn of the event loop and hands them over in
 * one batch at its end (setImmediate). Deadlines are armed this way: most
 * requests finish within the turn they arrived in and then never need a
 * timer, a queue slot or a disconnect listener at all.
 */
export class EndOfTurnBatch<Item> {
  #items: Item[] = []
  #spare: Item[] = []
  #scheduled = false
  readonly #handle: (item: Item) => void

  constructor (handle: (item: Item) => void) {
    this.#handle = handle
  }

  add (item: Item): void {
    this.#items.push(item)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(flushBatch, this)
    }
  }

  flush (): void {
    const items = this.#items
    // Two arrays take turns, so a batch allocates nothing.
    this.#items = this.#spare
    this.#spare = items
    this.#scheduled = false
    for (const item of items) this.#handle(item)
    items.length = 0
  }
}

function flushBatch (batch: { flush: () => void }): void {
  batch.flush()
}
