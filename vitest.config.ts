import { defineConfig } from 'vitest/config';

// Unit tests sit beside the code (core/, hosts/, plugins/); integration, runtime and e2e tests
// live under test/. Benchmarks under test/bench are scripts, never collected as tests. A plugin's
// plugin.test.ts is `weft plugin test` cases, not a vitest file (plugins/builtin/builtins.test.ts runs them).
//
// Acceptance tests that hold a latency bound (a hot reload visible within a second under wrk load)
// run in a second group, one file at a time, after everything else: on two shared cores, the
// other test files running beside them measured the test machine, not Weft (1.9 s seen in CI for
// a swap that takes 0.4 s alone).
// The single binary's test goes there too: it builds the binary (~15 s of CPU) and needs HBONE's
// fixed 15008, which test/integration/up.test.ts takes while it runs in the main group.
const TIMED = ['test/integration/plugins-hot-reload.test.ts', 'test/integration/single-binary.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['core/**/*.test.ts', 'hosts/**/*.test.ts', 'plugins/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['node_modules/**', 'dist/**', 'test/bench/**', '**/plugin.test.ts', ...TIMED],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'timed',
          include: TIMED,
          sequence: { groupOrder: 1 },
          fileParallelism: false,
        },
      },
    ],
  },
});
