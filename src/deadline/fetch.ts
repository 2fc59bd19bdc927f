import type { RequestDeadline } from './deadline.js'

/**
 * Headers in a shape `withDeadline` gives back as it was given: a plain
 * object (got, `node:http`, undici.request and fetch all take one), a
 * flat `['name', 'value', …]` array (`node:http`, undici.request), an
 * array of `[name, value]` pairs (fetch), or any other iterable of pairs,
 * a `Headers` among them (fetch, undici.request).
 */
export type DeadlineHeaders =
  | Readonly<Record<string, string | number | readonly string[] | undefined>>
  | readonly string[]
  | Iterable<readonly string[]>
  | Iterable<readonly [string, string | readonly string[] | undefined]>

/** The part of a client's options `withDeadline` reads. */
export interface DeadlineInit {
  /** A signal of the caller's own, combined with the deadline's. */
  signal?: AbortSignal | null | undefined
  /** The caller's headers, given back in their own shape with the budget header added. */
  headers?: DeadlineHeaders | null | undefined
}

/**
 * The headers `withDeadline` gives back: those given, in their type; a
 * plain object where none were (a possibly absent or null `headers`).
 * Distributes over a union, so optional headers give `their type | Record`.
 */
type HeadersBack<Given> = Given extends null | undefined ? Record<string, string> : Given

/** The caller's options, with the deadline's signal and their headers, in the shape given, holding the budget header. */
export type WithDeadline<Init extends object> = Omit<Init, 'headers' | 'signal'> & {
  /** The caller's headers, in the shape given (a plain object when none were), and the budget header. */
  headers: 'headers' extends keyof Init ? HeadersBack<Init['headers']> : Record<string, string>
  /** Aborts at the deadline, or when the caller's own signal does. */
  signal: AbortSignal
}

/**
 * Applies a deadline to the options of an HTTP client's call (got,
 * `node:http`, undici.request, fetch): its signal, combined with any
 * signal already given, and the header that carries the remaining budget
 * downstream, added to the caller's headers in the shape they were given.
 * Generic over the options so the result still fits the client they
 * were written for.
 */
// `Init & DeadlineInit` rather than `Init extends DeadlineInit`: every
// member of DeadlineInit is optional, so TypeScript took options that
// name neither (`{ method: 'POST', body }`) for a mistake, a "weak type"
// with nothing in common. The intersection still refuses headers or a
// signal of a type it cannot read.
export function withDeadline<Init extends object = Record<never, never>> (deadline: RequestDeadline, init?: Init & DeadlineInit): WithDeadline<Init> {
  const headers = addHeaders(init?.headers, deadline.headers())
  const signal = init?.signal == null ? deadline.signal : AbortSignal.any([deadline.signal, init.signal])
  // The spread keeps every other option as the caller typed it.
  return { ...init, headers, signal } as WithDeadline<Init>
}

/**
 * The given headers with `added` set, in the shape given and never the
 * given object itself: got and `http.request` read a plain object only
 * (a `Headers` is an object without own entries to them: every header,
 * the budget's included, was dropped without an error), fetch only pairs,
 * `http.request` and undici.request only a flat array. A header of the
 * same name, in any case, is replaced: two budget headers would reach the
 * server joined as one value it cannot read.
 */
function addHeaders (given: DeadlineInit['headers'], added: Record<string, string>): DeadlineHeaders {
  const names = new Set(Object.keys(added).map((name) => name.toLowerCase()))
  const replaced = (name: unknown): boolean => typeof name === 'string' && names.has(name.toLowerCase())
  if (given == null) return { ...added }
  if (Array.isArray(given)) {
    // Every entry a string: the flat form. An empty array is taken as
    // flat too, the form of both Node clients that take an array.
    if (given.every((entry) => typeof entry === 'string')) {
      const flat: string[] = []
      for (let index = 0; index < given.length; index += 2) {
        if (replaced(given[index])) continue
        flat.push(...(given as readonly string[]).slice(index, index + 2))
      }
      for (const [name, value] of Object.entries(added)) flat.push(name, value)
      return flat
    }
    // Pairs: kept as given, for the client to read as it reads them.
    const pairs: unknown[] = (given as readonly unknown[]).filter((pair) => !(Array.isArray(pair) && replaced(pair[0])))
    for (const pair of Object.entries(added)) pairs.push(pair)
    return pairs as Array<readonly string[]>
  }
  const prototype: unknown = Object.getPrototypeOf(given)
  if ((prototype === Object.prototype || prototype === null) || !(Symbol.iterator in given)) {
    // fromEntries defines own properties: a "__proto__" header stays a header.
    return Object.fromEntries([...Object.entries(given).filter(([name]) => !replaced(name)), ...Object.entries(added)])
  }
  if (given instanceof Map) {
    const entries = [...(given as Map<unknown, unknown>)].filter(([name]) => !replaced(name))
    return new Map([...entries, ...Object.entries(added)]) as Iterable<readonly [string, string]>
  }
  // A Headers (of this runtime or of the undici package), or another
  // iterable of pairs: a Headers of its own, which fetch and
  // undici.request take alike, and whose set() replaces in any case.
  const copy = new Headers(given as ConstructorParameters<typeof Headers>[0])
  for (const [name, value] of Object.entries(added)) copy.set(name, value)
  return copy
}
