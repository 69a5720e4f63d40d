/**
 * Types for the npm package `mistral-tokenizer-js` (plain JavaScript, no types of its own). Only what
 * `MistralTokenizer` uses: the vocabulary arrays and the BPE encoder over one stretch of text.
 */
declare module 'mistral-tokenizer-js' {
  interface MistralTokenizerJs {
    /**
     * SentencePiece-BPE encoding of plain text (no special-token handling).
     * @param addBosToken push id 1 first
     * @param addPrecedingSpace SentencePiece's dummy prefix: a space put before the text
     */
    encode(text: string, addBosToken?: boolean, addPrecedingSpace?: boolean, logPerformance?: boolean): number[];
    /** `vocabById[id]` is the piece string of id, 32000 entries (`▁` stands for a space). */
    vocabById: string[];
    vocabByString: Map<string, number>;
    /** Self-test against known ids; throws on a mismatch. */
    runTests(): boolean;
  }
  const mistralTokenizer: MistralTokenizerJs;
  export default mistralTokenizer;
}
