import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    // isolated-vm needs it on Node 20 (see ARCHITECTURE.md); harmless elsewhere.
    execArgv: ['--no-node-snapshot'],
    hookTimeout: 30_000,
  },
});
