/**
 * Every string a CLaRa run will tokenize, rendered exactly as the model will see it, so that a
 * `CompactTokenizer` built from them never meets an unknown piece on its own corpus. (Rendering
 * matters: in `Question:Where` the word is the piece `Where`, in a plain question it is `▁Where`.)
 */
import { PARAPHRASE_INSTRUCTIONS, answerPrompt, renderChatWithAnswer, stage1ParaphrasePrompt, stage1QaPrompt } from './chatPrompt.ts';
import { encoderText } from './encoderInput.ts';

export interface VocabularyCorpus {
  documents: readonly string[];
  /** Question–answer pairs of any stage. */
  qa: readonly { question: string; answer: string }[];
  /** Paraphrase targets of stage 1. */
  paraphrases?: readonly string[];
}

/** Encoder inputs of documents and questions, and each prompt kind with its answers. */
export function claraTextsForVocabulary(corpus: VocabularyCorpus, nMem: number): string[] {
  const texts: string[] = [];
  for (const document of corpus.documents) texts.push(encoderText(document));
  for (const { question, answer } of corpus.qa) {
    texts.push(encoderText(question));
    const stage1 = stage1QaPrompt([question], [answer], { nMem });
    texts.push(renderChatWithAnswer(stage1.system, stage1.user, stage1.answer!));
    const stage2 = answerPrompt(question, answer, { nMem, k: 1 });
    texts.push(renderChatWithAnswer(stage2.system, stage2.user, stage2.answer!));
  }
  // SentencePiece pieces never span words, so an answer cuts the same way after any instruction:
  // each instruction is rendered once, and each paraphrase once.
  const paraphrases = corpus.paraphrases ?? [];
  PARAPHRASE_INSTRUCTIONS.forEach((_, instructionIndex) => {
    paraphrases.forEach((paraphrase, i) => {
      if (i > 0 && instructionIndex > 0) return;
      const parts = stage1ParaphrasePrompt(paraphrase, { nMem, instructionIndex });
      texts.push(renderChatWithAnswer(parts.system, parts.user, parts.answer!));
    });
  });
  return texts;
}
