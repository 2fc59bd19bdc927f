const followers = new WeakMap<AbortSignal, Set<AbortController>>()

function noop (): void {}

/**
 * Makes `child` abort with `parent`'s reason. A parent gets one listener
 * however many children follow it, so a request that makes many calls
 * piles no listeners on its signal; and no `AbortSignal.any`, which costs
 * tens of microseconds per call on Node 20. Returns the function that
 * stops following.
 */
export function follow (parent: AbortSignal, child: AbortController): () => void {
  if (parent.aborted) {
    child.abort(parent.reason)
    return noop
  }
  let children = followers.get(parent)
  if (children === undefined) {
    const created = new Set<AbortController>()
    children = created
    followers.set(parent, created)
    parent.addEventListener('abort', () => {
      for (const follower of created) follower.abort(parent.reason)
      created.clear()
    }, { once: true })
  }
  const set = children
  set.add(child)
  return () => { set.delete(child) }
}
