import type { Backend } from '../../engine/index.ts';
import { ClaraModel } from '../../clara/claraModel.ts';
import { parseStage3Jsonl, type Stage3Row } from '../../clara/data/stage3Data.ts';
import { demoChart, joinPhases } from '../../clara/demo/demoReport.ts';
import { latestCheckpoint } from '../../clara/train/checkpoint.ts';
import { readMetrics } from '../../clara/train/metricsLog.ts';
import { existsSync, mountFiles, readFileSync } from '../platform/memoryFs.ts';

/**
 * A run folder written by `clara demo` (runs/demo-…/: metrics.json, stage1/, stage2-one-fact/ and
 * stage2/ when stage 2 ran, stage3/, each with its metrics.jsonl and checkpoint/, data/), opened in the page: its files are put in the page's
 * in-memory file system (platform/memoryFs.ts, the browser's `node:fs`), and then read with the
 * library's own readers, as Node would read them.
 */
export interface OpenedRun {
  /** The folder's name. */
  name: string;
  /** curves.svg drawn again from the metrics files (each stage's losses, the recall curve). */
  chart: string;
  /** metrics.json's headline numbers, as text. */
  summary: string;
  /** The last stage's model (stage 3, else 2, else 1), when the folder holds a checkpoint. */
  clara: ClaraModel | null;
  /** Held-out questions with their candidates (data/stage3-heldout.jsonl), for the explorer. */
  questions: Stage3Row[];
}

/** A file the user chose or dropped, with its path inside the chosen folder ("demo-1/stage1/metrics.jsonl"). */
export interface FolderFile {
  path: string;
  bytes: Uint8Array;
}

export function openRunFolder(files: readonly FolderFile[], backend: Backend): OpenedRun {
  mountFiles(files.map((f) => [f.path, f.bytes] as const));
  const metricsFile = files.map((f) => f.path).find((p) => p.split('/').pop() === 'metrics.json');
  if (metricsFile === undefined) throw new Error('no metrics.json in the chosen folder: choose a run folder written by `clara demo`');
  const root = metricsFile.slice(0, -'metrics.json'.length).replace(/\/$/, '');
  const at = (path: string) => (root === '' ? path : `${root}/${path}`);
  const metrics = JSON.parse(readFileSync(at('metrics.json'), 'utf8') as string) as {
    recallCurve?: Array<[number, number]>;
    recall?: { before: Record<string, number>; after: Record<string, number>; random?: Record<string, number>; bm25?: Record<string, number> };
    settings?: {
      stage1?: { mseWeight?: number; compressorFrozenSteps?: number };
      stage2?: { mseWeight?: number; compressorFrozenSteps?: number };
      stage3?: { queryReasonerFrozenSteps?: number };
    };
    backend?: string;
    seconds?: number;
  };
  const history = (stage: string) => (existsSync(at(`${stage}/metrics.jsonl`)) ? readMetrics(at(`${stage}/metrics.jsonl`)) : []);
  const oneFact = history('stage2-one-fact');
  const stage2 = metrics.settings?.stage2;
  const chart = demoChart({
    stage1: history('stage1'),
    stage2: {
      history: joinPhases([oneFact, history('stage2')]),
      mseWeight: stage2?.mseWeight ?? 0.1,
      compressorHold: stage2?.compressorFrozenSteps ?? 0,
      oneFactSteps: oneFact.length,
    },
    stage3: history('stage3'),
    recallCurve: metrics.recallCurve ?? [],
    // Run folders written before these settings were recorded: the demo's λ, and no holds drawn.
    mseWeight: metrics.settings?.stage1?.mseWeight ?? 0.1,
    holds: { compressor: metrics.settings?.stage1?.compressorFrozenSteps ?? 0, queryReasoner: metrics.settings?.stage3?.queryReasonerFrozenSteps ?? 0 },
    baselines: { chance: metrics.recall?.random?.['1'], bm25: metrics.recall?.bm25?.['1'] },
  });
  const recall = metrics.recall ? `recall@1 before / after stage 3: ${metrics.recall.before['1']} / ${metrics.recall.after['1']}` : '';
  const summary = [recall, metrics.backend ? `trained on ${metrics.backend} in ${metrics.seconds?.toFixed(0)} s` : ''].filter(Boolean).join('; ');

  const checkpoint = latestCheckpoint(at('stage3')) ?? latestCheckpoint(at('stage2')) ?? latestCheckpoint(at('stage1'));
  const clara = checkpoint === null ? null : ClaraModel.load(checkpoint, { backend });
  const heldOut = at('data/stage3-heldout.jsonl');
  const questions = existsSync(heldOut) ? parseStage3Jsonl(readFileSync(heldOut, 'utf8') as string, heldOut).rows : [];
  return { name: root || 'run', chart, summary, clara, questions };
}
