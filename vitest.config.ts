import { defineConfig } from 'vitest/config';

// Unit tests sit beside the code (core/, hosts/, plugins/); integration, runtime and e2e tests
// live under test/. Benchmarks under test/bench are scripts, never collected as tests.
export default defineConfig({
  test: {
    include: ['core/**/*.test.ts', 'hosts/**/*.test.ts', 'plugins/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'test/bench/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
