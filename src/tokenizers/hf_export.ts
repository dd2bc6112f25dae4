/**
 * Writing a tokenizer back out as Hugging Face files (`tokenizer.json` and
 * `tokenizer_config.json`), so a model trained here runs in transformers with the same ids:
 * a BPE tokenizer read from a `tokenizer.json` is written as it was read, and the byte
 * tokenizer as a byte-level BPE with no merges, whose ids are the UTF-8 bytes.
 *
 * @module
 */

import { writeFileAtomic } from "../util/atomic.ts";
import type { BpeTokenizer } from "./bpe_tokenizer.ts";
import { byteLevelDecodeToken } from "./byte_level.ts";
import {
  BYTE_BOS,
  BYTE_EOS,
  BYTE_PAD,
  BYTE_SPECIAL_TOKENS,
  BYTE_VOCAB_SIZE,
} from "./byte_tokenizer.ts";
import type { Json } from "./hf_json.ts";
import type { TokenizerSpecialConfig } from "./special_tokens.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** What a BPE tokenizer was built from, kept so that it can be written back unchanged. */
const SOURCES = new WeakMap<object, { json: unknown; special?: TokenizerSpecialConfig }>();

/**
 * Records the `tokenizer.json` (and special-token config) a BPE tokenizer was built from;
 * `bpeTokenizerFromJSON` calls it. The parsed JSON is kept by reference, not copied.
 *
 * @example
 * ```ts
 * import { byteTokenizer } from "@lossforge/core";
 * import { rememberTokenizerSource } from "./hf_export.ts";
 * rememberTokenizerSource(byteTokenizer(), { model: { type: "BPE" } });
 * ```
 */
export function rememberTokenizerSource(
  tokenizer: object,
  json: unknown,
  special?: TokenizerSpecialConfig,
): void {
  SOURCES.set(tokenizer, { json, special });
}

/** The byte-level alphabet's character for each byte, recovered from its inverse. */
function byteChars(): string[] {
  const chars = new Array<string>(256);
  for (let cp = 0; cp < 0x200; cp++) {
    const bytes = byteLevelDecodeToken(String.fromCharCode(cp));
    if (bytes?.length === 1) chars[bytes[0]] = String.fromCharCode(cp);
  }
  return chars;
}

/** Whether `tok` behaves as `byteTokenizer()`: its ids and its encoding of a non-ASCII text. */
function isByteTokenizer(tok: Tokenizer): boolean {
  if (
    tok.vocabSize !== BYTE_VOCAB_SIZE || tok.eos !== BYTE_EOS || tok.pad !== BYTE_PAD ||
    tok.bos !== BYTE_BOS
  ) return false;
  const ids = tok.encode("é<");
  return ids.length === 3 && ids[0] === 0xc3 && ids[1] === 0xa9 && ids[2] === 0x3c;
}

/**
 * The `tokenizer.json` of the byte tokenizer: a byte-level BPE whose vocabulary is the 256
 * bytes (id = byte) and no merges, no regex split, and the three specials as added tokens
 * 256..258. Hugging Face `tokenizers` gives the same ids and the same decoded text (special
 * tokens skipped), except for text that spells a special token literally ("<|eos|>"), which
 * Hugging Face reads as that token and the byte tokenizer as its bytes.
 *
 * @example
 * ```ts
 * import { byteTokenizerJson } from "@lossforge/core";
 * const json = byteTokenizerJson() as { model: { vocab: Record<string, number> } };
 * console.log(json.model.vocab["a"], Object.keys(json.model.vocab).length); // 97 256
 * ```
 */
export function byteTokenizerJson(): Json {
  const vocab: Record<string, number> = {};
  byteChars().forEach((c, b) => (vocab[c] = b));
  const added = [BYTE_PAD, BYTE_BOS, BYTE_EOS].map((id) => ({
    id,
    content: BYTE_SPECIAL_TOKENS[id],
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: "ByteLevel",
      add_prefix_space: false,
      trim_offsets: true,
      use_regex: false,
    },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/**
 * The `tokenizer.json` object of a tokenizer: the one a BPE tokenizer was read from, or
 * `byteTokenizerJson()` for the byte tokenizer. Any other tokenizer is an error.
 *
 * @example
 * ```ts
 * import { byteTokenizer, tokenizerJson } from "@lossforge/core";
 * const json = tokenizerJson(byteTokenizer()) as { model: { type: string } };
 * console.log(json.model.type); // "BPE"
 * ```
 */
export function tokenizerJson(tokenizer: Tokenizer | BpeTokenizer): unknown {
  const source = SOURCES.get(tokenizer);
  if (source) return source.json;
  if (isByteTokenizer(tokenizer)) return byteTokenizerJson();
  throw new Error(
    `tokenizerJson: cannot write this tokenizer (vocabSize ${tokenizer.vocabSize}): only ` +
      "BPE tokenizers read from a tokenizer.json and the byte tokenizer can be written",
  );
}

/**
 * The `tokenizer_config.json` object of a tokenizer: the special-token config a BPE
 * tokenizer was loaded with when it had one, else the BOS, EOS and PAD tokens by name with
 * the generic fast-tokenizer class (what transformers' `AutoTokenizer` needs).
 *
 * @example
 * ```ts
 * import { byteTokenizer, tokenizerConfigJson } from "@lossforge/core";
 * console.log(tokenizerConfigJson(byteTokenizer()).eos_token); // "<|eos|>"
 * ```
 */
export function tokenizerConfigJson(tokenizer: Tokenizer | BpeTokenizer): Record<string, unknown> {
  const source = SOURCES.get(tokenizer);
  if (source?.special) return { ...source.special };
  const name = (id: number | undefined): string | null => {
    if (id === undefined) return null;
    const bpe = tokenizer as Partial<BpeTokenizer>;
    const token = typeof bpe.idToToken === "function" ? bpe.idToToken(id) : BYTE_SPECIAL_TOKENS[id];
    return token ?? null;
  };
  if (!source) tokenizerJson(tokenizer); // the same error for a tokenizer it cannot write
  return {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: name(tokenizer.bos),
    eos_token: name(tokenizer.eos),
    pad_token: name(tokenizer.pad),
    clean_up_tokenization_spaces: false,
  };
}

/**
 * Writes `tokenizer.json` and `tokenizer_config.json` into the folder `dir` (created if
 * needed), each atomically, for `loadTokenizer` or transformers' `AutoTokenizer`.
 *
 * @example
 * ```ts
 * import { byteTokenizer, loadTokenizer, saveTokenizer } from "@lossforge/core";
 * await saveTokenizer("out/model", byteTokenizer());
 * const tok = await loadTokenizer("out/model");
 * console.log(tok.encode("hi"), tok.eos); // [104, 105] 258
 * ```
 */
export async function saveTokenizer(
  dir: string | URL,
  tokenizer: Tokenizer | BpeTokenizer,
): Promise<void> {
  const base = (dir instanceof URL ? decodeURIComponent(dir.pathname) : dir).replace(/\/+$/, "");
  const json = tokenizerJson(tokenizer);
  const config = tokenizerConfigJson(tokenizer);
  await Deno.mkdir(base, { recursive: true });
  await writeFileAtomic(`${base}/tokenizer.json`, JSON.stringify(json, null, 2) + "\n");
  await writeFileAtomic(
    `${base}/tokenizer_config.json`,
    JSON.stringify(config, null, 2) + "\n",
  );
}
