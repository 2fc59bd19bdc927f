import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'coverage/**', 'scratch/**', 'docs/api/**'] }),
  {
    // In Node, the globals Buffer, process and performance are accessors:
    // every read of one calls a getter, which the optimising compiler
    // cannot fold away, on every request that touches it. The library
    // imports them from their modules instead.
    files: ['src/**/*.ts', 'plugins/**/*.ts'],
    rules: {
      'n/prefer-global/buffer': ['error', 'never'],
      'n/prefer-global/process': ['error', 'never'],
      'no-restricted-globals': ['error', { name: 'performance', message: "Import it: import { performance } from 'node:perf_hooks'." }],
    },
  },
]
