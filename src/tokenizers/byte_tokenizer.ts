/**
 * A byte-level tokenizer: token ids 0..255 are UTF-8 bytes, followed by three specials.
 *
 * @module
 */

import type { Tokenizer } from "./tokenizer.ts";

/**
 * Id of `<|pad|>` in the byte tokenizer.
 *
 * @example
 * ```ts
 * import { BYTE_PAD, byteTokenizer } from "@lossforge/core";
 * const ids = byteTokenizer().encode("hi");
 * console.log([...ids, ...Array(4 - ids.length).fill(BYTE_PAD)]); // [104, 105, 256, 256]
 * ```
 */
export const BYTE_PAD = 256;
/**
 * Id of `<|bos|>` in the byte tokenizer.
 *
 * @example
 * ```ts
 * import { BYTE_BOS, byteTokenizer } from "@lossforge/core";
 * console.log([BYTE_BOS, ...byteTokenizer().encode("hi")]); // [257, 104, 105]
 * ```
 */
export const BYTE_BOS = 257;
/**
 * Id of `<|eos|>` in the byte tokenizer.
 *
 * @example
 * ```ts
 * import { BYTE_EOS, byteTokenizer } from "@lossforge/core";
 * const generated = [104, 105, BYTE_EOS, 33];
 * console.log(generated.slice(0, generated.indexOf(BYTE_EOS))); // [104, 105]
 * console.log(byteTokenizer().decode(generated)); // "hi!" (specials are skipped)
 * ```
 */
export const BYTE_EOS = 258;
/**
 * Vocabulary size of the byte tokenizer: 256 bytes and 3 specials.
 *
 * @example
 * ```ts
 * import { BYTE_VOCAB_SIZE, gpt } from "@lossforge/core";
 * const model = gpt({ vocab: BYTE_VOCAB_SIZE, context: 64, layers: 1, dim: 16, heads: 2 });
 * console.log(model.vocab); // 259
 * ```
 */
export const BYTE_VOCAB_SIZE = 259;

/**
 * The byte tokenizer's special tokens, by id.
 *
 * @example
 * ```ts
 * import { BYTE_SPECIAL_TOKENS } from "@lossforge/core";
 * console.log(BYTE_SPECIAL_TOKENS[258]); // "<|eos|>"
 * ```
 */
export const BYTE_SPECIAL_TOKENS: Readonly<Record<number, string>> = Object.freeze({
  [BYTE_PAD]: "<|pad|>",
  [BYTE_BOS]: "<|bos|>",
  [BYTE_EOS]: "<|eos|>",
});

/**
 * Creates the byte-level tokenizer. `encode` gives the UTF-8 bytes of the text; `decode`
 * skips the special ids (256 pad, 257 bos, 258 eos) and decodes the bytes leniently (an
 * invalid UTF-8 sequence becomes U+FFFD). Ids outside `[0, 259)` or non-integers make
 * `decode` throw a `RangeError` naming the index and value.
 *
 * @returns A {@linkcode Tokenizer} with `vocabSize` 259, `pad` 256, `bos` 257, `eos` 258.
 *
 * @example
 * ```ts
 * import { byteTokenizer } from "@lossforge/core";
 * const tok = byteTokenizer();
 * const ids = tok.encode("2+2=4 ✓");
 * console.log(tok.decode([tok.bos!, ...ids, tok.eos])); // "2+2=4 ✓"
 * ```
 */
export function byteTokenizer(): Tokenizer {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  return Object.freeze({
    vocabSize: BYTE_VOCAB_SIZE,
    bos: BYTE_BOS,
    eos: BYTE_EOS,
    pad: BYTE_PAD,
    encode(text: string): number[] {
      if (typeof text !== "string") {
        throw new TypeError(`byteTokenizer.encode: expected a string, got ${typeof text}`);
      }
      return Array.from(encoder.encode(text));
    },
    decode(ids: number[]): string {
      const bytes = new Uint8Array(ids.length);
      let n = 0;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (!Number.isInteger(id) || id < 0 || id >= BYTE_VOCAB_SIZE) {
          throw new RangeError(
            `byteTokenizer.decode: ids[${i}] = ${id} is not a token id in [0, ${BYTE_VOCAB_SIZE})`,
          );
        }
        if (id < 256) bytes[n++] = id;
      }
      return decoder.decode(bytes.subarray(0, n));
    },
  });
}
