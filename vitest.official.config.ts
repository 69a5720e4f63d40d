import { defineConfig } from 'vitest/config';

// The checks that need the official 1000-row stage-1 sample published with Apple's CLaRa code
// (`example/pretrain_data.jsonl` of apple/ml-clara). The sample is not part of this repository, so
// these checks live outside the default suite; run them with
//
//     CLARA_OFFICIAL_SAMPLE=/path/to/pretrain_data.jsonl npx vitest run --config vitest.official.config.ts
const sample = process.env.CLARA_OFFICIAL_SAMPLE;
if (sample === undefined || sample === '') {
  throw new Error(
    'vitest.official.config.ts: set CLARA_OFFICIAL_SAMPLE to the path of the official stage-1 sample (apple/ml-clara example/pretrain_data.jsonl)',
  );
}

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test-official/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
