/** Priority classes, most important first. */
export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const

/** A request's priority class; the lowest is shed first. */
export type Priority = typeof PRIORITIES[number]

/**
 * Rank of each class: 0 for the first shed (`low`) up to 3 (`critical`).
 * Pressure sheds every class whose rank is below its level.
 */
export const PRIORITY_RANK: Readonly<Record<Priority, number>> = Object.freeze({ low: 0, normal: 1, high: 2, critical: 3 })

export function isPriority (value: unknown): value is Priority {
  return typeof value === 'string' && Object.hasOwn(PRIORITY_RANK, value)
}

/** A counter per class, all at zero. */
export function countsByPriority (): Record<Priority, number> {
  return { critical: 0, high: 0, normal: 0, low: 0 }
}
