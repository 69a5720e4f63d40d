import type { Backend } from '../engine/index.ts';
import { readJsonFile } from '../engine/io/index.ts';
import { ClaraModel, DEFAULT_SETTINGS, memoryTokenCount, type ClaraSettings } from './claraModel.ts';
import type { Stage1Row } from './data/stage1Data.ts';
import type { Stage2Row } from './data/stage2Data.ts';
import { PRESETS, validateConfig, type MistralConfig } from './model/config.ts';
import { renderChatWithAnswer, stage1QaPrompt } from './tokenizer/chatPrompt.ts';
import { claraTextsForVocabulary } from './tokenizer/vocabularyTexts.ts';

/**
 * A CLaRa model to train from scratch on a given data set: a random frozen backbone of the chosen
 * size and a compact vocabulary holding every piece the data will produce. The tokenizer's size
 * becomes the backbone's `vocab_size`, whatever the preset says.
 */
export interface FreshModelOptions {
  /** A preset name (tiny, small, mistral-7b) or a config.json path or object. */
  base: string | MistralConfig;
  stage: 1 | 2;
  rows: readonly (Stage1Row | Stage2Row)[];
  settings?: Partial<ClaraSettings>;
  seed?: number;
  backend?: Backend;
}

export function freshModel(options: FreshModelOptions): ClaraModel {
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };
  const texts = vocabularyTexts(options.stage, options.rows, memoryTokenCount(settings));
  return ClaraModel.fromScratch({ texts, base: resolveBackboneConfig(options.base), settings, seed: options.seed, backend: options.backend });
}

/** A preset by name, or a config.json file (its vocab_size is replaced by the tokenizer's anyway). */
function resolveBackboneConfig(base: string | MistralConfig): MistralConfig {
  if (typeof base !== 'string') return base;
  const preset = PRESETS[base];
  if (preset !== undefined) return preset;
  if (!base.endsWith('.json')) throw new Error(`unknown backbone preset '${base}' (known: ${Object.keys(PRESETS).join(', ')}; or give a config.json file)`);
  const raw = readJsonFile(base, 'the backbone config') as Record<string, unknown>;
  return validateConfig({ vocab_size: 1, ...raw }, base);
}

/** Every text the rows of `stage` will be tokenized into (see tokenizer/vocabularyTexts.ts). */
export function vocabularyTexts(stage: 1 | 2, rows: readonly (Stage1Row | Stage2Row)[], nMem: number): string[] {
  if (stage === 2) {
    const stage2 = rows as readonly Stage2Row[];
    return claraTextsForVocabulary({ documents: stage2.flatMap((r) => r.docs), qa: stage2.map((r) => ({ question: r.question, answer: r.answer })) }, nMem);
  }
  const stage1 = rows as readonly Stage1Row[];
  const qaRows = stage1.filter((r) => r.dataType === 'qa');
  const texts = claraTextsForVocabulary(
    {
      documents: stage1.flatMap((r) => r.docs),
      qa: qaRows.flatMap((r) => r.questions.map((question, i) => ({ question, answer: r.answers[i]! }))),
      paraphrases: stage1.flatMap((r) => (r.dataType === 'paraphrase' ? [r.paraphrase] : [])),
    },
    nMem,
  );
  // A row with several QA pairs joins them with newlines: render it whole, so that the pieces at
  // the joins (a word right after "\n" has no leading "▁") are in the vocabulary too.
  for (const row of qaRows) {
    if (row.questions.length < 2) continue;
    const parts = stage1QaPrompt(row.questions, row.answers, { nMem });
    texts.push(renderChatWithAnswer(parts.system, parts.user, parts.answer!));
  }
  return texts;
}
