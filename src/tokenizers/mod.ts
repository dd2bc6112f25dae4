/**
 * Tokenizers: the byte tokenizer (ids are UTF-8 bytes plus three specials) and Hugging Face
 * BPE tokenizers read from `tokenizer.json` (GPT-2, Llama-2, Llama-3, Mistral, Qwen2/3,
 * SmolLM), both speaking the {@linkcode Tokenizer} interface the data pipeline uses.
 *
 * @example
 * ```ts
 * import { byteTokenizer } from "@lossforge/core/tokenizers";
 * const tok = byteTokenizer();
 * console.log(tok.encode("2+2")); // [50, 43, 50]
 * console.log(tok.decode(tok.encode("2+2=4"))); // "2+2=4"
 * ```
 *
 * @module
 */

export type { Tokenizer } from "./tokenizer.ts";
export {
  BYTE_BOS,
  BYTE_EOS,
  BYTE_PAD,
  BYTE_SPECIAL_TOKENS,
  BYTE_VOCAB_SIZE,
  byteTokenizer,
} from "./byte_tokenizer.ts";
export {
  type BpeDecodeOptions,
  type BpeEncodeOptions,
  type BpeTokenizer,
  bpeTokenizerFromJSON,
} from "./bpe_tokenizer.ts";
export { loadTokenizer } from "./load_tokenizer.ts";
export {
  byteTokenizerJson,
  saveTokenizer,
  tokenizerConfigJson,
  tokenizerJson,
} from "./hf_export.ts";
export type { TokenizerSpecialConfig } from "./special_tokens.ts";
export { byteLevelDecodeToken, byteLevelEncode } from "./byte_level.ts";
export { GPT2_SPLIT_PATTERN } from "./pre_tokenizers.ts";
