/**
 * Autoregressive generation, the one decoder of the library. With a key/value cache (a
 * `LanguageModel`): the prompt is run once, then each step feeds only the newest token;
 * prompts of different lengths are left-padded, with an attention mask so that padding is
 * never attended to and positions count real tokens. Without one (any causal `Module`, or
 * `recompute: true`): each step runs the whole sequence again; rows are right-padded, which a
 * causal model never lets change a row's own tokens, and only the argmax ids are read back.
 * @module
 */
import {
  type BackendName,
  noGrad,
  type Rng,
  rng as makeRng,
  scope,
  slice,
  type Tensor,
  tensor,
  treeDispose,
  treeLeaves,
  ValueError,
} from "../autograd/mod.ts";
import type { KVCache, LanguageModel } from "./language_model.ts";
import type { Module } from "./module.ts";
import type { ParamTree } from "./params.ts";

/**
 * Options of `generate`.
 *
 * @example
 * ```ts
 * import { generate, llama, rng } from "@lossforge/core";
 * const model = llama({ vocab: 32, dim: 16, layers: 1, heads: 2, hidden: 32 });
 * // Sample among the 10 likeliest tokens; the same rng seed gives the same text.
 * const out = await generate(model, model.init(rng(0)), [[1, 2, 3]], {
 *   maxNewTokens: 8,
 *   temperature: 0.8,
 *   topK: 10,
 *   eos: 0,
 *   rng: rng(1),
 * });
 * console.log(out[0].length); // at most 8
 * ```
 */
export interface GenerateOptions {
  /** At most this many tokens are appended to each prompt. */
  maxNewTokens: number;
  /** Sampling temperature; 0 (the default) picks the most likely token (greedy). */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** End-of-sequence id(s): a sequence stops after emitting one. */
  eos?: number | readonly number[];
  /** Padding id fed for prompts' left padding and finished sequences (default: eos or 0). */
  pad?: number;
  /** Generator for sampling (default: seeded with 0, so results are reproducible). */
  rng?: Rng;
  /**
   * Run the whole sequence at each step instead of extending a key/value cache (default:
   * false for a model with `forward`; a model without it always recomputes). Greedy only.
   */
  recompute?: boolean;
  /** When recomputing: a row stops once it holds this many tokens (the model's context). */
  context?: number;
  /** Checked before each new token. */
  signal?: AbortSignal;
}

/**
 * Continues each prompt (a batch of token id lists) and returns the new ids of each, the
 * EOS token included when one was emitted. Runs without recording gradients. A model with
 * `forward` extends its key/value cache; any other causal model (a LoRA-wrapped `apply`, a
 * test's bigram) is run over the whole sequence at each step.
 *
 * @example
 * ```ts
 * import { generate, llama, rng } from "@lossforge/core";
 * const model = llama({ vocab: 32, dim: 16, layers: 1, heads: 2, hidden: 32 });
 * const params = model.init(rng(0));
 * const out = await generate(model, params, [[1, 2, 3], [4]], { maxNewTokens: 5, eos: 0 });
 * console.log(out); // two lists of up to 5 ids
 * ```
 */
export async function generate<P extends ParamTree>(
  model: LanguageModel<P> | Module<P>,
  params: P,
  prompts: readonly (readonly number[])[] | Tensor,
  opts: GenerateOptions,
): Promise<number[][]> {
  const rows = Array.isArray(prompts)
    ? prompts as readonly (readonly number[])[]
    : await rowsOf(prompts as Tensor);
  if (rows.length === 0) return [];
  if (rows.some((r) => r.length === 0)) {
    throw new ValueError("generate: every prompt needs at least one token");
  }
  const eos = new Set(
    opts.eos === undefined ? [] : typeof opts.eos === "number" ? [opts.eos] : opts.eos,
  );
  const pad = opts.pad ?? (eos.size ? [...eos][0] : 0);
  const temperature = opts.temperature ?? 0;
  const random = opts.rng ?? makeRng(0);
  const leaf = treeLeaves(params)[0];
  if (!leaf) throw new ValueError("generate: params hold no tensors");
  const backend = leaf.backend.name;
  if (opts.recompute || !("forward" in model)) {
    if (temperature > 0) {
      throw new ValueError("generate: sampling needs the key/value cache (a model with forward)");
    }
    return await recomputed(model, params, rows, opts, eos, pad, backend);
  }
  const int = (data: number[], shape: number[]) =>
    tensor(new Int32Array(data), { shape, dtype: "int32", backend });

  const b = rows.length, width = Math.max(...rows.map((r) => r.length));
  const padded = rows.some((r) => r.length !== width);
  // Host-side bookkeeping: the mask over every position so far, and each row's next position.
  const mask: number[][] = rows.map((
    r,
  ) => [...new Array(width - r.length).fill(0), ...r.map(() => 1)]);
  const nextPos = rows.map((r) => r.length);
  let input = rows.flatMap((r) => [...new Array(width - r.length).fill(pad), ...r]);
  let positions = rows.flatMap((r) => [
    ...new Array(width - r.length).fill(0),
    ...r.map((_, i) => i),
  ]);
  let t = width;
  let limit = opts.maxNewTokens;
  // Learned positions end at the context; rotary ones do not.
  if (model.kind === "gpt") limit = Math.min(limit, model.context - width + 1);

  const out: number[][] = rows.map(() => []);
  const done = rows.map(() => false);
  let cache: KVCache | undefined;
  for (let step = 0; step < limit; step++) {
    opts.signal?.throwIfAborted();
    const ids = int(input, [b, t]);
    const pos = int(positions, [b, t]);
    const attn = padded ? int(mask.flat(), [b, mask[0].length]) : undefined;
    const res = noGrad(() =>
      scope(() => {
        const r = model.forward(params, ids, { positions: pos, attentionMask: attn, cache });
        return { last: slice(r.logits, [0, t - 1]), cache: r.cache };
      })
    );
    ids.dispose();
    pos.dispose();
    attn?.dispose();
    if (cache) treeDispose(cache.layers.flatMap((l) => [l.k, l.v]));
    cache = res.cache;
    const logits = await res.last.data();
    res.last.dispose();
    const v = logits.length / b;
    const chosen: number[] = [];
    for (let i = 0; i < b; i++) {
      if (done[i]) {
        chosen.push(pad);
        continue;
      }
      const row = logits.subarray(i * v, (i + 1) * v);
      const id = temperature > 0 ? sample(row, temperature, opts.topK, random) : argmax(row);
      out[i].push(id);
      if (eos.has(id)) done[i] = true;
      chosen.push(id);
    }
    if (done.every(Boolean) || step === limit - 1) break;
    input = chosen;
    positions = [...nextPos];
    for (let i = 0; i < b; i++) nextPos[i]++;
    for (const m of mask) m.push(1);
    t = 1;
  }
  if (cache) treeDispose(cache.layers.flatMap((l) => [l.k, l.v]));
  return out;
}

/** Greedy decoding that runs every row in full at each step (right-padded, no cache). */
async function recomputed<P extends ParamTree>(
  model: Module<P>,
  params: P,
  prompts: readonly (readonly number[])[],
  opts: GenerateOptions,
  eos: ReadonlySet<number>,
  pad: number,
  backend: BackendName,
): Promise<number[][]> {
  const context = opts.context ?? Infinity;
  const rows = prompts.map((r) => [...r]);
  const out: number[][] = rows.map(() => []);
  const done = rows.map(() => false);
  for (let n = 0; n < opts.maxNewTokens && done.some((d) => !d); n++) {
    opts.signal?.throwIfAborted();
    const b = rows.length, t = Math.max(...rows.map((r) => r.length));
    const ids = new Int32Array(b * t).fill(pad);
    rows.forEach((r, i) => ids.set(r, i * t));
    const best = scope(() =>
      noGrad(() =>
        model.apply(params, tensor(ids, { shape: [b, t], dtype: "int32", backend }), {
          training: false,
        }).argmax(-1)
      )
    );
    const picks = await best.data();
    best.dispose();
    rows.forEach((r, i) => {
      if (done[i]) return;
      // Each row's prediction sits at its own last position.
      const next = picks[i * t + r.length - 1];
      out[i].push(next);
      if (eos.has(next)) {
        done[i] = true;
        return;
      }
      r.push(next);
      if (r.length >= context) done[i] = true;
    });
  }
  return out;
}

async function rowsOf(ids: Tensor): Promise<number[][]> {
  if (ids.rank !== 2) {
    throw new ValueError(`generate: ids must be [batch, time], got [${ids.shape.join(",")}]`);
  }
  const data = await ids.data();
  const [b, t] = ids.shape;
  return Array.from({ length: b }, (_, i) => Array.from(data.subarray(i * t, (i + 1) * t)));
}

/** Index of the largest value (the first on ties, as torch.argmax). */
function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Draws from softmax(row / temperature), restricted to the top k when given. */
function sample(
  row: ArrayLike<number>,
  temperature: number,
  topK: number | undefined,
  r: Rng,
): number {
  let ids = Array.from({ length: row.length }, (_, i) => i);
  if (topK !== undefined && topK > 0 && topK < ids.length) {
    ids.sort((a, c) => row[c] - row[a] || a - c);
    ids = ids.slice(0, topK);
  }
  const max = Math.max(...ids.map((i) => row[i]));
  const weights = ids.map((i) => Math.exp((row[i] - max) / temperature));
  const total = weights.reduce((s, w) => s + w, 0);
  let u = r.uniform() * total;
  for (let j = 0; j < ids.length; j++) {
    u -= weights[j];
    if (u < 0) return ids[j];
  }
  return ids[ids.length - 1];
}
