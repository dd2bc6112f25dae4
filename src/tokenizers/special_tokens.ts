/**
 * Which ids are a tokenizer's EOS, BOS and PAD: from a special-token config when one is
 * given (`tokenizer_config.json`, `config.json`), else from tokens with conventional names.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";
import type { Json } from "./hf_json.ts";

/**
 * Special-token information as found in `tokenizer_config.json` (token strings, possibly
 * serialized `AddedToken` objects with a `content` field) and/or `config.json` /
 * `generation_config.json` (`*_token_id`, where `eos_token_id` may be a list).
 *
 * @example
 * ```ts
 * import { loadTokenizer, type TokenizerSpecialConfig } from "@lossforge/core";
 * // A chat model ends its turns with <|im_end|>: generation should stop there.
 * const special: TokenizerSpecialConfig = { eos_token: "<|im_end|>", pad_token_id: 0 };
 * const tok = await loadTokenizer("models/Qwen2-0.5B-Instruct/", special);
 * console.log(tok.eos, tok.pad); // the id of <|im_end|>, 0
 * ```
 */
export interface TokenizerSpecialConfig {
  /** BOS token text, or an AddedToken-like object `{ content }`. */
  bos_token?: string | { content: string } | null;
  /** EOS token text, or an AddedToken-like object `{ content }`. */
  eos_token?: string | { content: string } | null;
  /** PAD token text, or an AddedToken-like object `{ content }`. */
  pad_token?: string | { content: string } | null;
  /** BOS token id. */
  bos_token_id?: number | null;
  /** EOS token id (the first entry is used for a list). */
  eos_token_id?: number | number[] | null;
  /** PAD token id. */
  pad_token_id?: number | null;
}

/** The special ids of a tokenizer. */
export interface SpecialIds {
  /** End-of-sequence id. */
  eos: number;
  /** Beginning-of-sequence id, when the tokenizer has one. */
  bos?: number;
  /** Padding id (EOS when nothing names one). */
  pad: number;
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (isObject<Json>(v) && typeof v.content === "string") return v.content;
  return undefined;
}

const EOS_NAMES = ["<|endoftext|>", "</s>", "<|im_end|>", "<eos>", "<|end_of_text|>", "<|eot_id|>"];
const BOS_NAMES = ["<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"];
const PAD_NAMES = ["<pad>", "<|pad|>", "[PAD]", "<|padding|>", "<|finetune_right_pad_id|>"];

/**
 * The special ids for `special` (absent: found by name). `tokenToId` looks a token string
 * up (added tokens first), `hasId` tells whether an id exists; `where` names the file.
 */
export function resolveSpecialTokens(
  special: TokenizerSpecialConfig | undefined,
  tokenToId: (token: string) => number | undefined,
  hasId: (id: number) => boolean,
  where: string,
): SpecialIds {
  const lookup = (name: string, field: string): number => {
    const id = tokenToId(name);
    if (id === undefined) {
      throw new Error(
        `${where}: special-token config ${field} = ${show(name)} is not a known token`,
      );
    }
    return id;
  };
  const firstId = (v: number | number[] | null | undefined): number | undefined =>
    Array.isArray(v) ? v[0] : v ?? undefined;
  const fromNames = (names: string[]): number | undefined => {
    for (const n of names) {
      const id = tokenToId(n);
      if (id !== undefined) return id;
    }
    return undefined;
  };
  const pick = (
    tokenField: "bos_token" | "eos_token" | "pad_token",
    idField: "bos_token_id" | "eos_token_id" | "pad_token_id",
    names: string[],
  ): number | undefined => {
    const content = tokenContent(special?.[tokenField]);
    if (content !== undefined) return lookup(content, tokenField);
    const id = firstId(special?.[idField]);
    if (id !== undefined) {
      if (!hasId(id)) {
        throw new Error(
          `${where}: special-token config ${idField} = ${id} is not a known token id`,
        );
      }
      return id;
    }
    return fromNames(names);
  };
  const eos = pick("eos_token", "eos_token_id", EOS_NAMES);
  if (eos === undefined) {
    throw new Error(
      `${where}: could not determine the EOS token: no eos_token/eos_token_id given and none of ${
        EOS_NAMES.join(" ")
      } is a token; pass tokenizer_config.json as the second argument`,
    );
  }
  const bos = pick("bos_token", "bos_token_id", BOS_NAMES);
  const pad = pick("pad_token", "pad_token_id", PAD_NAMES) ?? eos;
  return bos === undefined ? { eos, pad } : { eos, bos, pad };
}
