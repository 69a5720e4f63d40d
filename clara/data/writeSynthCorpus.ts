/**
 * Writes a synthetic corpus to a folder in the formats of docs/clara.md §7; this is what `npx clara
 * synth` runs.
 *
 *     stage1.jsonl          qa and paraphrase rows (held-out facts excluded)
 *     stage2.jsonl          trained questions, k documents each, gold included
 *     stage3-train.jsonl    trained questions, N candidates each, pos_index = [gold]
 *     stage3-heldout.jsonl  held-out questions, same layout (evaluation only)
 *     documents.jsonl       the corpus, {"id": i, "text": document} per line
 *     split.json            options, counts, and every question with its split (trained / held out)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonLines } from './jsonLines.ts';
import { stage1Json } from './stage1Data.ts';
import { stage2Json } from './stage2Data.ts';
import { stage3Json } from './stage3Data.ts';
import { generateSyntheticCorpus, type SynthOptions, type SyntheticCorpus } from './synth.ts';

export interface SynthFiles {
  stage1: string;
  stage2: string;
  stage3Train: string;
  stage3HeldOut: string;
  documents: string;
  split: string;
}

/** The side file that says which questions are held out. */
export interface SynthSplit {
  options: Required<SynthOptions>;
  counts: { entities: number; questions: number; trained: number; heldOut: number; stage1Rows: number };
  questions: { id: string; entity: number; attribute: string; question: string; answer: string; split: 'trained' | 'heldOut' }[];
}

function synthSplit(corpus: SyntheticCorpus): SynthSplit {
  const heldOut = corpus.questions.filter((q) => q.heldOut).length;
  return {
    options: corpus.options,
    counts: {
      entities: corpus.entities.length,
      questions: corpus.questions.length,
      trained: corpus.questions.length - heldOut,
      heldOut,
      stage1Rows: corpus.stage1.length,
    },
    questions: corpus.questions.map((q) => ({
      id: q.id,
      entity: q.entityId,
      attribute: q.attribute,
      question: q.question,
      answer: q.answer,
      split: q.heldOut ? 'heldOut' : 'trained',
    })),
  };
}

/** Generates the corpus for `options` and writes it under `outDir`; returns the corpus and the paths. */
export function writeSyntheticCorpus(outDir: string, options: SynthOptions = {}): { corpus: SyntheticCorpus; files: SynthFiles } {
  const corpus = generateSyntheticCorpus(options);
  const files: SynthFiles = {
    stage1: join(outDir, 'stage1.jsonl'),
    stage2: join(outDir, 'stage2.jsonl'),
    stage3Train: join(outDir, 'stage3-train.jsonl'),
    stage3HeldOut: join(outDir, 'stage3-heldout.jsonl'),
    documents: join(outDir, 'documents.jsonl'),
    split: join(outDir, 'split.json'),
  };
  mkdirSync(outDir, { recursive: true });
  writeJsonLines(files.stage1, corpus.stage1.map(stage1Json));
  writeJsonLines(files.stage2, corpus.stage2.map(stage2Json));
  writeJsonLines(files.stage3Train, corpus.stage3Train.map(stage3Json));
  writeJsonLines(files.stage3HeldOut, corpus.stage3HeldOut.map(stage3Json));
  writeJsonLines(
    files.documents,
    corpus.documents.map((text, id) => ({ id, text })),
  );
  writeFileSync(files.split, `${JSON.stringify(synthSplit(corpus), null, 2)}\n`);
  return { corpus, files };
}
