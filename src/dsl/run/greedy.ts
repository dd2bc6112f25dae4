/**
 * Batched greedy decoding for any model (no KV cache needed): rows are right-padded and
 * each row reads the prediction at its own last position. Causal attention means padding
 * after a row's tokens never changes them, so the batch gives each row's exact answer.
 * Only the argmax ids come back from the device, one small read per new token.
 *
 * @module
 */

import { noGrad, scope, tensor } from "../../autograd/mod.ts";
import type { Tokenizer } from "../../data/mod.ts";
import type { Module, ParamTree } from "../../nn/mod.ts";

/**
 * Options of {@linkcode greedyGenerate}.
 *
 * @example
 * ```ts
 * import type { GreedyOptions } from "./greedy.ts";
 * const o: GreedyOptions = { maxNewTokens: 64, context: 256 };
 * console.log(o.maxNewTokens);
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
 * import { greedyGenerate } from "./greedy.ts";
 * import { byteTokenizer } from "../../data/mod.ts";
 * import { embedding, zeros } from "../../autograd/mod.ts";
 * const model = { init: () => ({ t: zeros([259, 259]) }), apply: (p: any, ids: any) => embedding(p.t, ids) };
 * const out = await greedyGenerate(model, model.init(), byteTokenizer(), ["hi"], { maxNewTokens: 2 });
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
  const { maxNewTokens, batchSize = 16 } = options;
  const out: string[] = [];
  for (let i = 0; i < prompts.length; i += batchSize) {
    options.signal?.throwIfAborted();
    out.push(
      ...await generateBatch(model, params, tokenizer, prompts.slice(i, i + batchSize), {
        ...options,
        maxNewTokens,
      }),
    );
  }
  return out;
}

async function generateBatch(
  model: Module<ParamTree>,
  params: ParamTree,
  tokenizer: Tokenizer,
  prompts: readonly string[],
  options: GreedyOptions,
): Promise<string[]> {
  const { maxNewTokens, context = Infinity } = options;
  const room = Math.max(1, Math.min(context, Number.MAX_SAFE_INTEGER) - 1);
  const rows = prompts.map((p) => {
    const head = tokenizer.bos !== undefined ? [tokenizer.bos] : [];
    const ids = tokenizer.encode(p);
    const keep = Math.max(0, Math.min(ids.length, room - head.length));
    return [...head, ...ids.slice(ids.length - keep)];
  });
  const generated: number[][] = rows.map(() => []);
  const done = rows.map(() => false);
  for (let n = 0; n < maxNewTokens && done.some((d) => !d); n++) {
    options.signal?.throwIfAborted();
    const B = rows.length, T = Math.max(...rows.map((r) => r.length));
    const ids = new Int32Array(B * T).fill(tokenizer.pad);
    rows.forEach((r, b) => ids.set(r, b * T));
    const best = scope(() =>
      noGrad(() =>
        model.apply(params, tensor(ids, { shape: [B, T] }), { training: false }).argmax(-1)
      )
    );
    const picks = await best.data();
    best.dispose();
    rows.forEach((r, b) => {
      if (done[b]) return;
      const next = picks[b * T + r.length - 1];
      if (next === tokenizer.eos) {
        done[b] = true;
        return;
      }
      generated[b].push(next);
      r.push(next);
      if (r.length >= context) done[b] = true;
    });
  }
  return generated.map((g) => tokenizer.decode(g));
}
