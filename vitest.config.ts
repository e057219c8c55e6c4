import { defineConfig } from 'vitest/config';

// Unit tests sit beside the code (core/, hosts/, plugins/); integration, runtime and e2e tests
// live under test/. Benchmarks under test/bench are scripts, never collected as tests. A plugin's
// plugin.test.ts is `weft plugin test` cases, not a vitest file (plugins/builtin/builtins.test.ts runs them).
export default defineConfig({
  test: {
    include: ['core/**/*.test.ts', 'hosts/**/*.test.ts', 'plugins/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'test/bench/**', '**/plugin.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
