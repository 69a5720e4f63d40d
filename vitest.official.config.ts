import { defineConfig } from 'vitest/config';

// The checks that need the official 1000-row stage-1 sample published with Apple's CLaRa code
// (`example/pretrain_data.jsonl` of apple/ml-clara). The sample is not part of this repository, so
// these checks live outside the default suite; run them with
//
//     CLARA_OFFICIAL_SAMPLE=/path/to/pretrain_data.jsonl npx vitest run --config vitest.official.config.ts
//
// Without the variable every check fails, saying what to set (test-official/officialSample.ts).
// The config itself loads anywhere, so the tools that read it (knip) need no sample.

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test-official/**/*.test.ts'],
    globalSetup: ['test/helpers/tempRoot.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
