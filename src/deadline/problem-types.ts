import type { ProblemTypeDefinition } from '../problem/registry.js'

export const DEADLINE_PROBLEM_TYPES: Readonly<Record<string, ProblemTypeDefinition>> = Object.freeze({
  'deadline-exceeded': {
    title: 'Deadline exceeded',
    status: 504,
    description: 'The request could not be completed within its deadline: the route timeout or the budget the caller sent, whichever is shorter. Retrying with the same budget is unlikely to help.',
  },
  'invalid-deadline': {
    title: 'Invalid deadline header',
    status: 400,
    description: 'A header that states the caller\'s remaining budget is malformed: repeated, empty or not a whole number of milliseconds.',
  },
})
