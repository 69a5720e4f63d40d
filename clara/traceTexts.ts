import type { ClaraModel } from './claraModel.ts';
import { answerExample, collateBatch, slotPromptBatch } from './examples.ts';
import { TraceInputs } from './model/traceInputs.ts';
import { buildEncoderBatch, type EncoderBatch } from './tokenizer/encoderInput.ts';
import type { GeneratorBatch } from './tokenizer/generatorBatch.ts';
import { IdsOnlyTokenizer } from './tokenizer/idsOnlyTokenizer.ts';

/**
 * `clara trace` inputs given as texts (`{"question", "docs", "answer"}` examples, model/traceInputs.ts)
 * turned into the ids the step modes read (traceStep.ts), with the model's own tokenizer and the
 * layouts training uses, so that a trace of texts is a trace of what training would see:
 *   compressor  every example's documents, one encoder row each          (the compressor's layout)
 *   stage1      the answer prompt with the example's k documents          (stage 2's examples.ts batch)
 *   stage3      the question for the query reasoner, its docs as the N candidates (the same N for every
 *               example), and an answer prompt with k = min(--k or the model's generationTopK, N) slots
 * A checkpoint traced on ids only (no tokenizer this project reads) cannot: the error says so.
 */
export function tokenizeTraceTexts(clara: ClaraModel, inputs: TraceInputs, mode: 'compressor' | 'stage1' | 'stage3', k?: number): TraceInputs {
  const { tokenizer, settings } = clara;
  if (tokenizer instanceof IdsOnlyTokenizer)
    throw new Error(
      `${inputs.file} gives texts, but this checkpoint was loaded without a tokenizer (no tokenizer.json of this project, or --mem-ids given): give token ids instead (clara trace --help lists the names)`,
    );
  const texts = inputs.texts;
  const documents = (docs: readonly string[]) => buildEncoderBatch(tokenizer, docs, { maxTextLength: settings.docMaxLength, padding: 'longest' });
  let ids: Record<string, number[][]>;
  if (mode === 'compressor') ids = encoderIds('', documents(texts.flatMap((t) => t.docs)));
  else if (mode === 'stage1') {
    const batch = collateBatch(
      tokenizer,
      texts.map((t) => answerExample(tokenizer, t.question, t.docs, t.answer)),
      settings.docMaxLength,
    );
    ids = { ...encoderIds('encoder.', batch.encoder), ...generatorIds(batch.generator) };
  } else {
    const candidates = texts[0]!.docs.length;
    if (!texts.every((t) => t.docs.length === candidates))
      throw new Error(`${inputs.file}: stage 3 needs the same number of docs (candidates) in every example`);
    const questions = texts.map((t) => t.question);
    const slots = Math.min(k ?? settings.generationTopK, candidates);
    ids = {
      ...encoderIds('query.', buildEncoderBatch(tokenizer, questions, { maxTextLength: settings.questionMaxLength, padding: 'longest' })),
      ...encoderIds('candidates.', documents(texts.flatMap((t) => t.docs))),
      ...generatorIds(
        slotPromptBatch(
          tokenizer,
          questions,
          slots,
          texts.map((t) => t.answer),
        ),
      ),
    };
  }
  return TraceInputs.fromJson(inputs.file, ids);
}

function encoderIds(prefix: string, batch: EncoderBatch): Record<string, number[][]> {
  return { [`${prefix}input_ids`]: batch.inputIds, [`${prefix}attention_mask`]: batch.attentionMask };
}

function generatorIds(batch: GeneratorBatch): Record<string, number[][]> {
  return { 'generator.input_ids': batch.inputIds, 'generator.attention_mask': batch.attentionMask, 'generator.labels': batch.labels };
}
