/**
 * Greedy continuations as text: prompts are encoded (after `bos`) and cut to fit, the ids go
 * through `src/nn`'s `generate`, the one decoder, and each answer is decoded up to `eos`.
 *
 * @module
 */

import type { Tokenizer } from "../../tokenizers/mod.ts";
import { generate, type Module, type ParamTree } from "../../nn/mod.ts";

/**
 * Options of {@linkcode greedyGenerate}.
 *
 * @example
 * ```ts
 * import { byteTokenizer, gpt, greedyGenerate, rng } from "@lossforge/core";
 * const model = gpt({ vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 });
 * // Long prompts lose their start so that 8 new tokens fit in the model's 32 positions.
 * const params = model.init(rng(0));
 * const out = await greedyGenerate(model, params, byteTokenizer(), ["Question: 1+1?"], {
 *   maxNewTokens: 8,
 *   context: 32,
 * });
 * console.log(out.length); // 1
 * ```
 */
export interface GreedyOptions {
  /** Tokens to generate at most per prompt. */
  maxNewTokens: number;
  /** The model's context length: prompts are cut from the left to leave room. */
  context?: number;
  /** Prompts per forward pass (default 16). */
  batchSize?: number;
  /** Checked between tokens. */
  signal?: AbortSignal;
}

/**
 * The greedy continuation of each prompt (`[bos] + prompt`), decoded, without the prompt;
 * generation stops at `eos`.
 *
 * @example
 * ```ts
 * import { byteTokenizer, embedding, greedyGenerate, type Tensor, zeros } from "@lossforge/core";
 * const model = {
 *   init: () => ({ t: zeros([259, 259]) }),
 *   apply: (p: { t: Tensor }, ids: Tensor) => embedding(p.t, ids),
 * };
 * const out = await greedyGenerate(model, model.init(), byteTokenizer(), ["hi"], {
 *   maxNewTokens: 2,
 * });
 * console.log(out.length); // 1
 * ```
 */
export async function greedyGenerate(
  model: Module<ParamTree>,
  params: ParamTree,
  tokenizer: Tokenizer,
  prompts: readonly string[],
  options: GreedyOptions,
): Promise<string[]> {
  const { context = Infinity } = options;
  // The prompt keeps its last tokens, leaving one position to predict from.
  const room = Math.max(1, Math.min(context, Number.MAX_SAFE_INTEGER) - 1);
  const rows = prompts.map((p) => {
    const head = tokenizer.bos !== undefined ? [tokenizer.bos] : [];
    const ids = tokenizer.encode(p);
    const keep = Math.max(0, Math.min(ids.length, room - head.length));
    return [...head, ...ids.slice(ids.length - keep)];
  });
  return await continueRows(model, params, tokenizer, rows, { ...options, recompute: true });
}

/**
 * Options of {@linkcode continueRows}.
 *
 * @example
 * ```ts
 * import { byteTokenizer, gpt, rng } from "@lossforge/core";
 * import { type ContinueOptions, continueRows } from "./greedy.ts";
 * const model = gpt({ vocab: 259, context: 16, layers: 1, dim: 16, heads: 2 });
 * // Two rows per call of `generate`, each step over the whole sequence (no cache).
 * const options: ContinueOptions = { maxNewTokens: 3, batchSize: 2, recompute: true };
 * const rows = [[257, 49], [257, 50], [257, 51]];
 * const out = await continueRows(model, model.init(rng(0)), byteTokenizer(), rows, options);
 * console.log(out.length); // 3
 * ```
 */
export interface ContinueOptions extends GreedyOptions {
  /** Run the whole sequence at each step rather than a model's key/value cache. */
  recompute?: boolean;
}

/**
 * The greedy continuation of each row of token ids (already encoded and cut), decoded up to
 * `eos`, `batchSize` rows per call of `generate`.
 *
 * @example
 * ```ts
 * import { byteTokenizer, gpt, rng } from "@lossforge/core";
 * import { continueRows } from "./greedy.ts";
 * const model = gpt({ vocab: 259, context: 16, layers: 1, dim: 16, heads: 2 });
 * const out = await continueRows(model, model.init(rng(0)), byteTokenizer(), [[1, 2]], {
 *   maxNewTokens: 3,
 * });
 * console.log(out.length); // 1
 * ```
 */
export async function continueRows(
  model: Module<ParamTree>,
  params: ParamTree,
  tokenizer: Tokenizer,
  rows: readonly (readonly number[])[],
  options: ContinueOptions,
): Promise<string[]> {
  const { maxNewTokens, batchSize = 16, context, signal, recompute } = options;
  const out: string[] = [];
  for (let i = 0; i < rows.length; i += batchSize) {
    signal?.throwIfAborted();
    const gen = await generate(model, params, rows.slice(i, i + batchSize), {
      maxNewTokens,
      eos: tokenizer.eos,
      pad: tokenizer.pad,
      recompute,
      context,
      signal,
    });
    for (const g of gen) {
      const end = g.indexOf(tokenizer.eos);
      out.push(tokenizer.decode(end >= 0 ? g.slice(0, end) : g));
    }
  }
  return out;
}
