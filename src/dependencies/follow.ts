const followers = new WeakMap<AbortSignal, Set<AbortController>>()

/**
 * Makes `child` abort with `parent`'s reason until {@link unfollow}. A
 * parent gets one listener however many children follow it, so a caller
 * that makes many calls piles no listeners on its signal; and no
 * `AbortSignal.any`, which costs tens of microseconds per call on Node 20.
 */
export function follow (parent: AbortSignal, child: AbortController): void {
  if (parent.aborted) {
    child.abort(parent.reason)
    return
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
  children.add(child)
}

export function unfollow (parent: AbortSignal, child: AbortController): void {
  followers.get(parent)?.delete(child)
}
