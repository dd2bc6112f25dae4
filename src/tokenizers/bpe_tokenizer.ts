/**
 * Hugging Face BPE tokenizer, built from a `tokenizer.json` object: the pieces of the file
 * each have their file beside this one (normalizers, pre-tokenizers, the BPE model, added
 * tokens, decoders, the post-processor, special tokens); this one puts them in order, as
 * Hugging Face's `tokenizers` does: added tokens cut out of the raw text, each remaining
 * part normalized (then added tokens matched on the normalized text), pre-tokenized, and
 * each piece tokenized by the BPE model; decoding passes every token, added ones too,
 * through the decoder.
 *
 * Both kinds of BPE file load: byte-level ones (GPT-2, Llama-3, Qwen2/3, SmolLM, GPT-NeoX,
 * Falcon) and SentencePiece-style ones with `byte_fallback` (Llama-2, Mistral, TinyLlama),
 * with the components listed in `NORMALIZERS`, `PRE_TOKENIZERS`, `DECODERS` and
 * `POST_PROCESSORS`.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";
import { type AddedToken, AddedTokenMatcher, parseAddedTokens } from "./added_tokens.ts";
import { BpeModel } from "./bpe_model.ts";
import { buildDecoder, type Decoder } from "./decoders.ts";
import { rememberTokenizerSource } from "./hf_export.ts";
import type { Json } from "./hf_json.ts";
import { buildNormalizer, type Normalizer } from "./normalizers.ts";
import { buildPostProcessor, type PostProcessor } from "./post_processor.ts";
import { buildPreTokenizer, type Piece, type PreStep } from "./pre_tokenizers.ts";
import { resolveSpecialTokens, type TokenizerSpecialConfig } from "./special_tokens.ts";
import { parsing } from "../util/parse_error.ts";

/**
 * Options for {@linkcode BpeTokenizer.encode}.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "@lossforge/core";
 * const tok = await loadTokenizer("models/tiny-llama-hf/");
 * const ids = tok.encode("Hi", { addSpecialTokens: true }); // e.g. BOS first for Llama-3
 * ```
 */
export interface BpeEncodeOptions {
  /**
   * Apply the tokenizer's `TemplateProcessing` post processor (e.g. prepend BOS for
   * Llama-3). Defaults to `false`; post processors of other types add nothing.
   */
  addSpecialTokens?: boolean;
}

/**
 * Options for {@linkcode BpeTokenizer.decode}.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "@lossforge/core";
 * const tok = await loadTokenizer("models/tiny-llama-hf/");
 * console.log(tok.decode([0, 50, 86])); // "<|endoftext|>Qu"
 * console.log(tok.decode([0, 50, 86], { skipSpecial: true })); // "Qu"
 * ```
 */
export interface BpeDecodeOptions {
  /** Drop ids of added tokens marked `special: true`. Defaults to `false`. */
  skipSpecial?: boolean;
}

/**
 * A BPE tokenizer read from `tokenizer.json` (byte-level or SentencePiece-style). Structurally compatible with the data pipeline's
 * `Tokenizer` interface (`vocabSize`, `encode`, `decode`, `eos`, `pad`, `bos?`).
 *
 * @example
 * ```ts
 * import { type BpeTokenizer, loadTokenizer } from "@lossforge/core";
 * const tok: BpeTokenizer = await loadTokenizer("models/tiny-llama-hf/tokenizer.json");
 * const ids = tok.encode("Hello world");
 * console.log(tok.decode(ids)); // "Hello world"
 * ```
 */
export interface BpeTokenizer {
  /** One more than the largest token id (vocab and added tokens). */
  readonly vocabSize: number;
  /** End-of-sequence token id. */
  readonly eos: number;
  /** Padding token id (falls back to {@linkcode BpeTokenizer.eos}). */
  readonly pad: number;
  /** Beginning-of-sequence token id, if the tokenizer has one. */
  readonly bos?: number;
  /** Encode text to token ids (no special tokens are added unless asked for). */
  encode(text: string, options?: BpeEncodeOptions): number[];
  /** Decode token ids to text; special tokens are kept as their text by default. */
  decode(ids: readonly number[], options?: BpeDecodeOptions): string;
  /** The id of a token string (vocab or added token), or `undefined`. */
  tokenToId(token: string): number | undefined;
  /** The token string of an id, or `undefined` if the id is unknown. */
  idToToken(id: number): string | undefined;
}

class HfBpeTokenizer implements BpeTokenizer {
  readonly vocabSize: number;
  readonly eos: number;
  readonly pad: number;
  readonly bos?: number;
  readonly #model: BpeModel;
  readonly #normalizer: Normalizer | null;
  readonly #steps: PreStep[];
  readonly #rawAdded: AddedTokenMatcher;
  readonly #normAdded: AddedTokenMatcher;
  readonly #idToToken: Map<number, string>;
  readonly #addedIds: Map<number, AddedToken>;
  readonly #addedByContent: Map<string, number>;
  readonly #postProcessor: PostProcessor | null;
  readonly #decoder: Decoder;

  constructor(json: unknown, special: TokenizerSpecialConfig | undefined, where: string) {
    if (!isObject<Json>(json)) throw new Error(`${where}: tokenizer.json must be a JSON object`);
    const model = json.model;
    if (!isObject<Json>(model)) throw new Error(`${where}: missing "model" object`);
    const type = model.type ??
      (isObject<Json>(model.vocab) && Array.isArray(model.merges) ? "BPE" : undefined);
    if (type !== "BPE") {
      throw new Error(`${where}: unsupported model.type ${show(type)}; supported model types: BPE`);
    }
    this.#model = new BpeModel(model, where);
    this.#normalizer = buildNormalizer(json.normalizer, where);
    const pre = buildPreTokenizer(json.pre_tokenizer, `${where}: pre_tokenizer`);
    this.#steps = pre.steps;

    this.#idToToken = new Map();
    for (const [tok, id] of this.#model.vocab) this.#idToToken.set(id, tok);
    this.#addedIds = new Map();
    this.#addedByContent = new Map();
    const raw: AddedToken[] = [];
    const norm: AddedToken[] = [];
    for (const t of parseAddedTokens(json.added_tokens, where)) {
      this.#addedIds.set(t.id, t);
      this.#addedByContent.set(t.content, t.id);
      if (t.normalized && this.#normalizer) {
        // Matched in normalized text, so in its normalized form, which is also the form the
        // decoder gets back (as in Hugging Face, so the decoder can undo the normalizer).
        const content = this.#normalizer({ text: t.content, atStart: true }).text;
        norm.push({ ...t, content });
        this.#idToToken.set(t.id, content);
      } else {
        raw.push(t);
        this.#idToToken.set(t.id, t.content);
      }
    }
    this.#rawAdded = new AddedTokenMatcher(raw);
    this.#normAdded = new AddedTokenMatcher(norm);
    let maxId = -1;
    for (const id of this.#idToToken.keys()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;

    const tokenToId = (t: string) => this.tokenToId(t);
    const ids = resolveSpecialTokens(special, tokenToId, (id) => this.#idToToken.has(id), where);
    this.eos = ids.eos;
    if (ids.bos !== undefined) this.bos = ids.bos;
    this.pad = ids.pad;
    this.#postProcessor = buildPostProcessor(json.post_processor, where, tokenToId);
    this.#decoder = buildDecoder(json.decoder, where, pre.byteLevel);
  }

  tokenToId(token: string): number | undefined {
    return this.#addedByContent.get(token) ?? this.#model.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.#idToToken.get(id);
  }

  #encodePlain(piece: Piece, out: number[]): void {
    let pieces = [piece];
    for (const step of this.#steps) pieces = step(pieces);
    for (const p of pieces) for (const id of this.#model.tokenize(p.text)) out.push(id);
  }

  encode(text: string, options?: BpeEncodeOptions): number[] {
    const ids: number[] = [];
    // A part that starts the text is the only one at its start (Metaspace's "first" scheme).
    this.#rawAdded.split(text).forEach((part, i) => {
      if (typeof part === "number") {
        ids.push(part);
        return;
      }
      const raw = { text: part, atStart: i === 0 };
      const normalized = this.#normalizer ? this.#normalizer(raw) : raw;
      this.#normAdded.split(normalized.text).forEach((sub, j) => {
        if (typeof sub === "number") ids.push(sub);
        else this.#encodePlain({ text: sub, atStart: j === 0 && normalized.atStart }, ids);
      });
    });
    if (options?.addSpecialTokens && this.#postProcessor) return this.#postProcessor(ids);
    return ids;
  }

  decode(ids: readonly number[], options?: BpeDecodeOptions): string {
    // As in Hugging Face, every token goes through the decoder, added tokens too (Llama-2's
    // decoder strips one leading space of the whole text, not of each run between them).
    const tokens: string[] = [];
    for (const id of ids) {
      if (options?.skipSpecial && this.#addedIds.get(id)?.special) continue;
      const tok = this.#idToToken.get(id);
      if (tok === undefined) {
        throw new Error(`decode: unknown token id ${show(id)} (vocabSize ${this.vocabSize})`);
      }
      tokens.push(tok);
    }
    // Well-formed, as Rust strings are (a lone surrogate in a token's text becomes U+FFFD).
    return this.#decoder(tokens).join("").toWellFormed();
  }
}

/**
 * Build a BPE tokenizer (byte-level or SentencePiece-style) from a parsed Hugging Face
 * `tokenizer.json`.
 *
 * `special` supplies special tokens (e.g. the parsed `tokenizer_config.json`); without it,
 * EOS/BOS/PAD are found among tokens with conventional names (`<|endoftext|>`, `</s>`,
 * `<|im_end|>`, `<eos>`, ...), and PAD falls back to EOS.
 *
 * @param json The parsed `tokenizer.json`.
 * @param special Optional special-token config (`tokenizer_config.json`-like).
 * @param source A name for error messages (e.g. the file path).
 * @example
 * ```ts
 * import { bpeTokenizerFromJSON } from "@lossforge/core";
 * const json = JSON.parse(await Deno.readTextFile("tokenizer.json"));
 * const tok = bpeTokenizerFromJSON(json, { eos_token: "<|endoftext|>" });
 * console.log(tok.encode("Hi there")); // e.g. [39, 72, 335]
 * ```
 */
export function bpeTokenizerFromJSON(
  json: unknown,
  special?: TokenizerSpecialConfig,
  source = "tokenizer.json",
): BpeTokenizer {
  return parsing(() => {
    const tokenizer = new HfBpeTokenizer(json, special, source);
    // Kept so that savePretrained can write the same tokenizer.json back out.
    rememberTokenizerSource(tokenizer, json, special);
    return tokenizer;
  });
}
