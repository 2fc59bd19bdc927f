import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/redis.ts'],
    testTimeout: 20_000,
    // Most test files spend their time waiting on sockets, timers, Redis
    // and child processes rather than on a core: on 2 cores, three files at
    // a time took the suite from 328 s to 168 s.
    maxWorkers: Math.max(3, availableParallelism()),
    hookTimeout: 60_000,
    // `npm test` runs with --coverage; a partial run (one folder) does not
    // measure, so the floor applies to the whole suite only.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'plugins/**/*.ts'],
      reporter: ['text-summary'],
      // A little below what the suite reaches (95.3 % statements, 89.4 %
      // branches, 95.4 % functions, 97.3 % lines), so a change that leaves
      // code untested fails the run.
      thresholds: { statements: 94, branches: 88, functions: 94, lines: 96 },
    },
    typecheck: {
      enabled: true,
      include: ['test/types/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
  },
})
