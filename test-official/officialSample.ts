import { existsSync } from 'node:fs';

/**
 * The path of the official 1000-row stage-1 sample, from CLARA_OFFICIAL_SAMPLE (see
 * vitest.official.config.ts). Throws a message that says what to set when it is missing.
 */
export function officialSamplePath(): string {
  const path = process.env.CLARA_OFFICIAL_SAMPLE;
  if (path === undefined || path === '')
    throw new Error('set CLARA_OFFICIAL_SAMPLE to the path of the official stage-1 sample (apple/ml-clara example/pretrain_data.jsonl)');
  if (!existsSync(path)) throw new Error(`CLARA_OFFICIAL_SAMPLE=${path}: no such file`);
  return path;
}
