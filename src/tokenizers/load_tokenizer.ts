/**
 * Loading a tokenizer from disk: a `tokenizer.json` file or the folder holding it, with the
 * `tokenizer_config.json` beside it for the special tokens.
 *
 * @module
 */

import { isObject } from "../util/show.ts";
import { type BpeTokenizer, bpeTokenizerFromJSON } from "./bpe_tokenizer.ts";
import type { Json } from "./hf_json.ts";
import type { TokenizerSpecialConfig } from "./special_tokens.ts";
import { parsingAsync } from "../util/parse_error.ts";

/** The parsed JSON of the file at `path`; errors name the file. */
async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read file: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * Load a tokenizer from a `tokenizer.json` file, or from a directory holding one. Unless
 * `special` is given, a `tokenizer_config.json` next to it is used for special tokens
 * when present.
 *
 * @param path Path (or file URL) of `tokenizer.json` or of its directory.
 * @param special Optional special-token config overriding `tokenizer_config.json`.
 * @example
 * ```ts
 * import { loadTokenizer } from "@lossforge/core";
 * const tok = await loadTokenizer("models/tiny-llama-hf/");
 * console.log(tok.vocabSize, tok.eos, tok.pad); // 600 0 1
 * ```
 */
export async function loadTokenizer(
  path: string | URL,
  special?: TokenizerSpecialConfig,
): Promise<BpeTokenizer> {
  return await parsingAsync(() => readTokenizer(path, special));
}

async function readTokenizer(
  path: string | URL,
  special?: TokenizerSpecialConfig,
): Promise<BpeTokenizer> {
  let file = path instanceof URL ? decodeURIComponent(path.pathname) : path;
  let isDir = false;
  try {
    isDir = (await Deno.stat(file)).isDirectory;
  } catch (e) {
    throw new Error(`${file}: cannot read tokenizer: ${(e as Error).message}`);
  }
  if (isDir) file = file.replace(/\/+$/, "") + "/tokenizer.json";
  const json = await readJson(file);
  if (special === undefined) {
    const cfgPath = file.replace(/[^/]*$/, "tokenizer_config.json");
    let exists = false;
    try {
      exists = (await Deno.stat(cfgPath)).isFile;
    } catch {
      exists = false;
    }
    if (exists) {
      const cfg = await readJson(cfgPath);
      if (!isObject<Json>(cfg)) throw new Error(`${cfgPath}: expected a JSON object`);
      special = cfg as TokenizerSpecialConfig;
    }
  }
  return bpeTokenizerFromJSON(json, special, file);
}
