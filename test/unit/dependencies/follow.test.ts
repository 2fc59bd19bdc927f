import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { follow, unfollow } from '../../../src/dependencies/follow.js'

describe('follow', () => {
  it('aborts every follower with the parent, through one listener', () => {
    const parent = new AbortController()
    const children = Array.from({ length: 50 }, () => new AbortController())
    for (const child of children) follow(parent.signal, child)
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
    parent.abort(new Error('deadline'))
    expect(children.every((child) => child.signal.aborted && (child.signal.reason as Error).message === 'deadline')).toBe(true)
  })

  it('a follower that stopped following is not aborted', () => {
    const parent = new AbortController()
    const child = new AbortController()
    follow(parent.signal, child)
    unfollow(parent.signal, child)
    parent.abort()
    expect(child.signal.aborted).toBe(false)
  })

  it('a parent already aborted aborts the follower at once', () => {
    const parent = new AbortController()
    parent.abort(new Error('gone'))
    const child = new AbortController()
    follow(parent.signal, child)
    expect((child.signal.reason as Error).message).toBe('gone')
  })
})
