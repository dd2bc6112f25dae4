/**
 * The tokenizer contract shared by the byte-level tokenizer and the BPE tokenizer.
 *
 * @module
 */

/**
 * A text tokenizer: maps text to integer token ids in `[0, vocabSize)` and back.
 *
 * `bos` is optional (some tokenizers have no beginning-of-sequence token); `eos` ends every
 * training target and `pad` fills unused positions of a batch.
 *
 * @example
 * ```ts
 * import { byteTokenizer, type Tokenizer } from "@lossforge/core";
 * // Code written against the interface takes the byte tokenizer or a loaded BPE one.
 * const target = (tok: Tokenizer, text: string) => [...tok.encode(text), tok.eos];
 * console.log(target(byteTokenizer(), "hi")); // [104, 105, 258]
 * ```
 */
export interface Tokenizer {
  /** Number of token ids; every id is an integer in `[0, vocabSize)`. */
  readonly vocabSize: number;
  /** Text to token ids (no special tokens are added). */
  encode(text: string): number[];
  /** Token ids to text; special tokens are skipped. */
  decode(ids: number[]): string;
  /** Beginning-of-sequence id, if the tokenizer has one. */
  readonly bos?: number;
  /** End-of-sequence id. */
  readonly eos: number;
  /** Padding id. */
  readonly pad: number;
}
