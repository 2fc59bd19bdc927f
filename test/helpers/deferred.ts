/** A promise with its resolve and reject exposed, to hold a handler until a test releases it. */
export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (reason: unknown) => void
}

export function deferred<T = void> (): Deferred<T> {
  let settle: Pick<Deferred<T>, 'resolve' | 'reject'> | undefined
  const promise = new Promise<T>((resolve, reject) => { settle = { resolve, reject } })
  if (settle === undefined) throw new TypeError('the Promise executor did not run synchronously')
  return { promise, ...settle }
}
