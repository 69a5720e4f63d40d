import type { Generator } from '../engine/index.ts';
import type { Stage1Row } from './data/stage1Data.ts';
import {
  answerPrompt,
  PARAPHRASE_INSTRUCTIONS,
  stage1ParaphrasePrompt,
  stage1QaPrompt,
  tokenizeChatPrompt,
  type GeneratorInput,
} from './tokenizer/chatPrompt.ts';
import { buildEncoderBatch, type EncoderBatch } from './tokenizer/encoderInput.ts';
import { collateGeneratorInputs, type GeneratorBatch } from './tokenizer/generatorBatch.ts';
import type { Tokenizer } from './tokenizer/tokenizer.ts';

/**
 * Training examples and batches (docs/clara.md §2, §3). An example is the k documents the generator
 * will read (compressed) and its tokenized prompt with k memory slots and, in training, the answer.
 * A batch stacks B examples: B·k compressor rows [B·k, T + n] and B generator rows [B, L], each
 * left-padded.
 */
export interface Example {
  docs: string[];
  generator: GeneratorInput;
}

export interface Batch {
  /** B·k rows, document j of example b at row b·k + j. */
  encoder: EncoderBatch;
  generator: GeneratorBatch;
}

/** Stage 1: one document; qa rows target every QA pair, paraphrase rows a paraphrase (instruction drawn from `rng`). */
export function stage1Example(tokenizer: Tokenizer, row: Stage1Row, rng: Generator): Example {
  const nMem = tokenizer.nMem;
  const parts =
    row.dataType === 'qa'
      ? stage1QaPrompt(row.questions, row.answers, { nMem })
      : stage1ParaphrasePrompt(row.paraphrase, { nMem, instructionIndex: rng.int(PARAPHRASE_INSTRUCTIONS.length) });
  return { docs: row.docs.slice(0, 1), generator: tokenizeChatPrompt(tokenizer, parts, { k: 1 }) };
}

/** Stages 2 and 3, and inference: the question and k documents; `answer` undefined at inference. */
export function answerExample(tokenizer: Tokenizer, question: string, docs: readonly string[], answer?: string): Example {
  const parts = answerPrompt(question, answer, { nMem: tokenizer.nMem, k: docs.length });
  return { docs: [...docs], generator: tokenizeChatPrompt(tokenizer, parts, { k: docs.length }) };
}

/**
 * Answer prompts (question and, in training, answer) with k document slots whose contents will be
 * compressed vectors spliced in, so the slots' text is never read: B left-padded generator rows.
 */
export function slotPromptBatch(tokenizer: Tokenizer, questions: readonly string[], k: number, answers?: readonly string[]): GeneratorBatch {
  const placeholders = new Array<string>(k).fill('');
  const rows = questions.map((q, i) => answerExample(tokenizer, q, placeholders, answers?.[i]).generator);
  return collateGeneratorInputs(rows, tokenizer.padId);
}

export function collateBatch(tokenizer: Tokenizer, examples: readonly Example[], docMaxLength: number): Batch {
  return {
    encoder: buildEncoderBatch(
      tokenizer,
      examples.flatMap((e) => e.docs),
      { maxTextLength: docMaxLength, padding: 'longest' },
    ),
    generator: collateGeneratorInputs(
      examples.map((e) => e.generator),
      tokenizer.padId,
    ),
  };
}
