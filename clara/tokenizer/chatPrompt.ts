/**
 * The generator's chat prompt (docs/clara.md §3): Mistral v0.2 chat format with a system message,
 *
 *     <s> [INST] SYSTEM\n\nUSER [/INST] ANSWER</s>
 *
 * where USER holds k document slots, each the text `<MEM0>…<MEM{n-1}><SEP>`. The model later
 * overwrites the n memory-token embeddings of slot j with the compressed vectors of document j;
 * `memoryPositions` says where they are.
 *
 * How the official code builds a training row (re-derived from apple/ml-clara, modeling_clara.py
 * `_blend_*` and sft_dataset.py): it renders the prompt (`add_generation_prompt=True`) and the prompt
 * plus answer with the tokenizer's chat template, tokenizes the full string without adding special
 * tokens (the `<s>` and `</s>` are in the string), right-truncates it to 1024 tokens, and masks the
 * first `len(tokenize(prompt))` labels with -100, so only the answer tokens and the closing `</s>` are
 * supervised. The USER text goes through `.replace(':\ ', ': ')` first (a no-op on CLaRa's own
 * templates, kept for exactness).
 *
 * A tokenizer that carries its model's chat template (a released folder's tokenizer_config.json)
 * renders the messages with it, as the official code does; the layout written out below is what
 * Mistral-7B-Instruct-v0.2's template gives, used for vocabularies that come without one.
 */
import { EOS_TOKEN, BOS_TOKEN, SEP_TOKEN, memToken } from './addedTokens.ts';
import type { ChatMessage } from './chatTemplate.ts';
import { IGNORE_INDEX, type Tokenizer } from './tokenizer.ts';
import { encodePrefix } from './tokenPrefix.ts';

export const QA_SYSTEM_PROMPT =
  'You are a helpful assistant. Given a document, your task is to generate some single questions to cover all key information of the document and answer them sequentially.';
export const PARAPHRASE_SYSTEM_PROMPT = 'You are a helpful assistant. Your task is follow the instructions to paraphrase the background information.';
/** Stages 2 and 3, training and inference. */
export const ANSWER_SYSTEM_PROMPT =
  'You are a helpful assistant. Your task is to extract relevant information from provided documents and to answer to questions as briefly as possible.';

/** The official paraphrase instructions; `{docs}` stands for the document slots. One is drawn per row. */
export const PARAPHRASE_INSTRUCTIONS: readonly string[] = [
  'Background: {docs} means the same as',
  'Background: {docs} Can you put the above sentences in your own terms?',
  'Background: {docs} Please provide a reinterpretation of the preceding background text.',
  'These two expressions are equivalent in essence:\n(1) {docs}\n(2)',
  'Background: {docs} is a paraphrase of what?',
  'Background: {docs} Could you give me a different version of the background sentences above?',
  'In other words, background: {docs} is just another way of saying:',
  "You're getting across the same point whether you say background: {docs} or",
  'Background: {docs} After unpacking the ideas in the background information above, we got:',
  "Background: {docs} Please offer a restatement of the background sentences I've just read.",
  'Background: {docs}, which also means:',
  "Strip away the mystery, and you'll find background: {docs} is simply another rendition of:",
  'The essence of background: {docs} is captured again in the following statement:',
];

/** The three parts of one generator row; `answer` is absent at inference. */
export interface ChatPromptParts {
  system: string;
  user: string;
  answer?: string;
}

/** k document slots, `<MEM0>…<MEM{n-1}><SEP>` each, one after the other. */
export function documentSlotsText(nMem: number, k: number): string {
  let slot = '';
  for (let i = 0; i < nMem; i++) slot += memToken(i);
  return (slot + SEP_TOKEN).repeat(k);
}

/** `<s> [INST] SYSTEM\n\nUSER [/INST]`: what the generator reads before it answers. */
export function renderChatPrompt(system: string, user: string): string {
  return `${BOS_TOKEN} [INST] ${system}\n\n${cleanUserText(user)} [/INST]`;
}

/** The prompt followed by ` ANSWER</s>`: a whole training sequence as text. */
export function renderChatWithAnswer(system: string, user: string, answer: string): string {
  return `${renderChatPrompt(system, user)} ${answer}${EOS_TOKEN}`;
}

/**
 * The generator's text for `parts`, with the answer when `withAnswer` (and `parts.answer` is given):
 * through the tokenizer's chat template when it has one (`apply_chat_template` with
 * `add_generation_prompt` for the prompt alone), else the Mistral layout of `renderChatPrompt`.
 */
export function renderGeneratorText(tokenizer: Tokenizer, parts: ChatPromptParts, withAnswer: boolean): string {
  const answer = withAnswer ? parts.answer : undefined;
  const template = tokenizer.chatTemplate;
  if (template === undefined) return answer === undefined ? renderChatPrompt(parts.system, parts.user) : renderChatWithAnswer(parts.system, parts.user, answer);
  const assistant: ChatMessage[] = answer === undefined ? [] : [{ role: 'assistant', content: answer }];
  const options = { addGenerationPrompt: answer === undefined };
  try {
    return template.render([{ role: 'system', content: parts.system }, { role: 'user', content: cleanUserText(parts.user) }, ...assistant], options);
  } catch (error) {
    // The official code's fallback for a template without a system role: one user message, system + '\n' + user.
    if (!(error as Error).message.includes('System role not supported')) throw error;
    return template.render([{ role: 'user', content: `${parts.system}\n${cleanUserText(parts.user)}` }, ...assistant], options);
  }
}

/** Stage 1, `qa` rows: the answer is every QA pair of the document, `Question: q\nAnswer: a` per line. */
export function stage1QaPrompt(questions: readonly string[], answers: readonly string[], options: { nMem: number; k?: number }): ChatPromptParts {
  if (questions.length !== answers.length) throw new Error('stage1QaPrompt: questions and answers differ in length');
  const answer = questions.map((q, i) => `Question: ${q}\nAnswer: ${answers[i]}`).join('\n');
  return { system: QA_SYSTEM_PROMPT, user: `Background:\n${documentSlotsText(options.nMem, options.k ?? 1)}`, answer };
}

/**
 * Stage 1, `paraphrase` rows. The official code draws the instruction with Python's `random.choice`;
 * here the caller picks `instructionIndex` (from a seeded `Generator`) so runs are reproducible.
 */
export function stage1ParaphrasePrompt(paraphrase: string | undefined, options: { nMem: number; k?: number; instructionIndex: number }): ChatPromptParts {
  const instruction = PARAPHRASE_INSTRUCTIONS[options.instructionIndex];
  if (instruction === undefined) throw new Error(`no paraphrase instruction ${options.instructionIndex}`);
  const user = instruction.replace('{docs}', documentSlotsText(options.nMem, options.k ?? 1));
  return { system: PARAPHRASE_SYSTEM_PROMPT, user, answer: paraphrase };
}

/** Stages 2 and 3 (and inference): `Background:\n{slots}\n\nQuestion:{question}`, no space after the colon. */
export function answerPrompt(question: string, answer: string | undefined, options: { nMem: number; k: number }): ChatPromptParts {
  return {
    system: ANSWER_SYSTEM_PROMPT,
    user: `Background:\n${documentSlotsText(options.nMem, options.k)}\n\nQuestion:${question}`,
    answer,
  };
}

/** One tokenized generator row, unpadded. Lengths: L = inputIds.length = labels.length. */
export interface GeneratorInput {
  /** (L) token ids of prompt and, in training, answer and `</s>`. */
  inputIds: number[];
  /** (L) −100 on the prompt, the token id on the answer and `</s>`; all −100 at inference. */
  labels: number[];
  /** Number of prompt tokens (the masked prefix). */
  promptLength: number;
  /** (k, n) positions in `inputIds` of slot j's `<MEM0>`…`<MEM{n-1}>`, slots in order. */
  memoryPositions: number[][];
  /** true when the row was longer than maxLength and was cut; absent otherwise. */
  truncated?: true;
}

/**
 * Tokenizes one row. `k` is the number of document slots the prompt holds (checked). `maxLength`
 * right-truncates like the official collate (1024); a row whose slots would be cut throws.
 */
export function tokenizeChatPrompt(tokenizer: Tokenizer, parts: ChatPromptParts, options: { k: number; maxLength?: number }): GeneratorInput {
  const maxLength = options.maxLength ?? 1024;
  // Tokens past maxLength are cut below anyway; encodePrefix does not tokenize text that far.
  const prompt = encodePrefix(tokenizer, renderGeneratorText(tokenizer, parts, false), maxLength, { addBos: false });
  const promptIds = prompt.ids;
  let inputIds: number[];
  let truncated = prompt.truncated;
  if (parts.answer === undefined) {
    inputIds = promptIds;
  } else {
    const row = encodePrefix(tokenizer, renderGeneratorText(tokenizer, parts, true), maxLength, { addBos: false });
    inputIds = row.ids;
    truncated = row.truncated;
    // The label mask relies on the prompt's tokens being a prefix of the whole row's tokens; with
    // Mistral's template they are, because `[/INST]` ends in `]` and SentencePiece never merges
    // across the space that follows it.
    for (let i = 0; i < promptIds.length; i++) {
      if (inputIds[i] !== promptIds[i]) throw new Error('tokenizeChatPrompt: prompt tokens are not a prefix of the row');
    }
  }
  inputIds = inputIds.slice(0, maxLength);
  const promptLength = Math.min(promptIds.length, inputIds.length);
  const labels = inputIds.map((id, i) => (i < promptLength || parts.answer === undefined ? IGNORE_INDEX : id));
  return { inputIds, labels, promptLength, memoryPositions: findMemorySlots(tokenizer, inputIds, options.k), ...(truncated ? { truncated } : {}) };
}

/** Finds the k runs `<MEM0>…<MEM{n-1}>` in `ids`; throws unless there are exactly k complete ones. */
export function findMemorySlots(tokenizer: Tokenizer, ids: readonly number[], k: number): number[][] {
  const mem = tokenizer.special.mem;
  const memIds = new Set(mem);
  const slots: number[][] = [];
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== mem[0]) {
      if (memIds.has(ids[i]!)) throw new Error(`memory token out of order at position ${i}`);
      continue;
    }
    const slot: number[] = [];
    for (let j = 0; j < mem.length; j++) {
      if (ids[i + j] !== mem[j]) throw new Error(`incomplete memory slot at position ${i} (truncated?)`);
      slot.push(i + j);
    }
    slots.push(slot);
    i += mem.length - 1;
  }
  if (slots.length !== k) throw new Error(`expected ${k} memory slots in the prompt, found ${slots.length}`);
  return slots;
}

/** Python's `prompt_user.replace(':\ ', ': ')` from the official code. */
function cleanUserText(user: string): string {
  return user.replaceAll(':\\ ', ': ');
}
