import { defineConfig } from 'vitest/config';

// Dawn must not be started inside worker threads (it crashes), so every test file runs in its own
// forked process, which acquires the device once in `beforeAll`.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/tempRoot.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
