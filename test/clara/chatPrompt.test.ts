import { describe, expect, it } from 'vitest';
import { MistralTokenizer } from '../../clara/tokenizer/mistralTokenizer.ts';
import {
  ANSWER_SYSTEM_PROMPT,
  PARAPHRASE_SYSTEM_PROMPT,
  QA_SYSTEM_PROMPT,
  answerPrompt,
  documentSlotsText,
  renderChatPrompt,
  renderChatWithAnswer,
  stage1ParaphrasePrompt,
  stage1QaPrompt,
  tokenizeChatPrompt,
} from '../../clara/tokenizer/chatPrompt.ts';
import { collateGeneratorInputs } from '../../clara/tokenizer/generatorBatch.ts';
import { buildEncoderBatch, encoderText } from '../../clara/tokenizer/encoderInput.ts';
import { IGNORE_INDEX } from '../../clara/tokenizer/tokenizer.ts';

const tokenizer = new MistralTokenizer({ nMem: 2 });

describe('chat prompts (docs/clara.md §3)', () => {
  it('render as <s> [INST] SYSTEM\\n\\nUSER [/INST] ANSWER</s>', () => {
    expect(documentSlotsText(2, 2)).toBe('<MEM0><MEM1><SEP><MEM0><MEM1><SEP>');
    expect(renderChatPrompt('SYS', 'USER')).toBe('<s> [INST] SYS\n\nUSER [/INST]');
    expect(renderChatWithAnswer('SYS', 'USER', 'Paris')).toBe('<s> [INST] SYS\n\nUSER [/INST] Paris</s>');

    const stage2 = answerPrompt('Who?', 'Bob', { nMem: 2, k: 2 });
    expect(renderChatWithAnswer(stage2.system, stage2.user, stage2.answer!)).toBe(
      `<s> [INST] ${ANSWER_SYSTEM_PROMPT}\n\nBackground:\n<MEM0><MEM1><SEP><MEM0><MEM1><SEP>\n\nQuestion:Who? [/INST] Bob</s>`,
    );
    const qa = stage1QaPrompt(['Q1?', 'Q2?'], ['A1', 'A2'], { nMem: 2 });
    expect(renderChatWithAnswer(qa.system, qa.user, qa.answer!)).toBe(
      `<s> [INST] ${QA_SYSTEM_PROMPT}\n\nBackground:\n<MEM0><MEM1><SEP> [/INST] Question: Q1?\nAnswer: A1\nQuestion: Q2?\nAnswer: A2</s>`,
    );
    const paraphrase = stage1ParaphrasePrompt('Same thing.', { nMem: 2, instructionIndex: 0 });
    expect(renderChatWithAnswer(paraphrase.system, paraphrase.user, paraphrase.answer!)).toBe(
      `<s> [INST] ${PARAPHRASE_SYSTEM_PROMPT}\n\nBackground: <MEM0><MEM1><SEP> means the same as [/INST] Same thing.</s>`,
    );
  });

  it('tokenize with the prompt masked, the answer and </s> supervised, and the memory slots located', () => {
    const row = tokenizeChatPrompt(tokenizer, answerPrompt('Who?', 'Bob Smith', { nMem: 2, k: 3 }), { k: 3 });
    const { inputIds, labels, promptLength, memoryPositions } = row;
    expect(inputIds.slice(0, 4)).toEqual([1, 733, 16289, 28793]); // <s> ▁[ INST ]
    expect(labels.length).toBe(inputIds.length);
    expect(labels.slice(0, promptLength).every((l) => l === IGNORE_INDEX)).toBe(true);
    const supervised = labels.slice(promptLength);
    expect(supervised).toEqual(inputIds.slice(promptLength));
    expect(supervised.at(-1)).toBe(tokenizer.eosId);
    expect(tokenizer.decode(supervised)).toBe('Bob Smith</s>');
    // The last prompt tokens are `▁[ / INST ]`.
    expect(inputIds.slice(promptLength - 4, promptLength)).toEqual([733, 28748, 16289, 28793]);
    expect(memoryPositions.length).toBe(3);
    for (const slot of memoryPositions) {
      expect(slot.map((p) => inputIds[p])).toEqual(tokenizer.special.mem);
      expect(inputIds[slot.at(-1)! + 1]).toBe(tokenizer.special.sep);
    }
  });

  it('at inference has no answer, every label masked', () => {
    const row = tokenizeChatPrompt(tokenizer, answerPrompt('Who?', undefined, { nMem: 2, k: 1 }), { k: 1 });
    expect(row.promptLength).toBe(row.inputIds.length);
    expect(row.labels.every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(tokenizer.decode(row.inputIds).endsWith('Question:Who? [/INST]')).toBe(true);
  });

  it('rejects a prompt whose slots do not match k, or are cut by truncation', () => {
    expect(() => tokenizeChatPrompt(tokenizer, answerPrompt('Q', 'A', { nMem: 2, k: 2 }), { k: 3 })).toThrow(/expected 3 memory slots/);
    expect(() => tokenizeChatPrompt(tokenizer, answerPrompt('Q', 'A', { nMem: 2, k: 1 }), { k: 1, maxLength: 10 })).toThrow(/memory slots|incomplete/);
  });

  it('left-pads a batch, shifting labels and memory positions', () => {
    const short = tokenizeChatPrompt(tokenizer, answerPrompt('Q?', 'A', { nMem: 2, k: 1 }), { k: 1 });
    const long = tokenizeChatPrompt(tokenizer, answerPrompt('A much longer question?', 'Answer', { nMem: 2, k: 1 }), { k: 1 });
    const batch = collateGeneratorInputs([short, long], tokenizer.padId);
    const pad = long.inputIds.length - short.inputIds.length;
    expect(batch.inputIds[0]!.length).toBe(long.inputIds.length);
    expect(batch.attentionMask[0]!.slice(0, pad + 1)).toEqual([...new Array(pad).fill(0), 1]);
    expect(batch.labels[0]!.slice(0, pad).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(batch.memoryPositions[0]![0]!.map((p) => batch.inputIds[0]![p])).toEqual(tokenizer.special.mem);
    expect(batch.memoryPositions[1]).toEqual(long.memoryPositions);
  });
});

describe('compressor input (docs/clara.md §2)', () => {
  it('is [pad … | <ENC> <s> doc </s> | <MEM0> … <MEM{n-1}>] with the padding masked', () => {
    expect(encoderText('doc')).toBe('<ENC><s>doc</s>');
    const enc = tokenizer.special.enc;
    const [m0, m1] = tokenizer.special.mem;
    const batch = buildEncoderBatch(tokenizer, ['Hello world'], { maxTextLength: 4 });
    expect(batch.inputIds[0]).toEqual([1, 1, enc, 1, 16230, 1526, 2, m0, m1]);
    expect(batch.attentionMask[0]).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1]);
    expect(batch.memoryPositions[0]).toEqual([7, 8]);
  });

  it('right-truncates a long document to maxTextLength+3 tokens, losing its </s>', () => {
    const batch = buildEncoderBatch(tokenizer, ['one two three four five'], { maxTextLength: 2 });
    const row = batch.inputIds[0]!;
    expect(row.length).toBe(2 + 3 + 2);
    expect(row.slice(0, 2)).toEqual([tokenizer.special.enc, 1]);
    expect(row.slice(0, 5)).not.toContain(tokenizer.eosId);
    expect(batch.attentionMask[0]!.every((m) => m === 1)).toBe(true);
  });

  it("pads to the batch's longest row with padding 'longest'", () => {
    const batch = buildEncoderBatch(tokenizer, ['a', 'a b c'], { maxTextLength: 256, padding: 'longest' });
    expect(batch.inputIds[0]!.length).toBe(batch.inputIds[1]!.length);
    expect(batch.attentionMask[1]!.every((m) => m === 1)).toBe(true);
    expect(batch.attentionMask[0]!.filter((m) => m === 0).length).toBe(2);
  });
});
