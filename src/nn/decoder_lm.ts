/**
 * The rotary decoder language model the Llama, GPT-NeoX, StableLM and Falcon families all
 * are, told apart only by their blocks and their Hugging Face names: token embedding,
 * rotary tables, the stack of blocks, a final norm, and an output head that is either its
 * own projection or the embedding matrix itself.
 * @module
 */
import { type DType, matmul, randn, type Rng, type Tensor, ValueError } from "../autograd/mod.ts";
import type { AttentionContext, AttentionOutput } from "./attention.ts";
import type { HfModelConfig } from "./hf_config.ts";
import { applyDropout } from "./dropout.ts";
import {
  checkLayers,
  decoderLayers,
  type KVCache,
  type LanguageModel,
  type LinearInfo,
  type LmContext,
  positionsFor,
} from "./language_model.ts";
import { project } from "./linear.ts";
import type { Module } from "./module.ts";
import type { ParamTree } from "./params.ts";
import { ropeTables } from "./rope.ts";

/**
 * The hyperparameters every rotary decoder family shares (each family's config adds its
 * own).
 *
 * @example
 * ```ts
 * import { type DecoderConfig, stableLm } from "@lossforge/core";
 * const shape: DecoderConfig = { vocab: 64, dim: 16, layers: 2, heads: 4, tieEmbeddings: true };
 * console.log(stableLm({ ...shape, hidden: 32 }).linears.length); // 14: no lm_head when tied
 * ```
 */
export interface DecoderConfig {
  /** Vocabulary size. */
  vocab: number;
  /** Model width. */
  dim: number;
  /** Number of blocks. */
  layers: number;
  /** Query heads. */
  heads: number;
  /** RoPE base (default 10000). */
  ropeTheta?: number;
  /** Norm epsilon (default 1e-5). */
  normEps?: number;
  /** Share the embedding with the output head (default: the family's). */
  tieEmbeddings?: boolean;
  /** Longest context (informational; rotary positions have no hard limit). */
  context?: number;
  /** Dropout on embeddings, attention and residual branches (default 0). */
  dropout?: number;
  /** Initialiser standard deviation (default 0.02). */
  initStd?: number;
  /** Parameter dtype for `init` (default float32; float64 works on the CPU). */
  dtype?: DType;
}

/** What a family states to become a `decoderLm`. */
export interface DecoderSpec<L extends ParamTree> {
  /** The model's `kind`. */
  kind: LanguageModel["kind"];
  /** Its hyperparameters (`tieEmbeddings` already resolved to the family's default). */
  config: DecoderConfig & { tieEmbeddings: boolean };
  /** The context when the config gives none. */
  context: number;
  /**
   * Hugging Face names: `${model}.${embed}.weight`, `${model}.${layers}.${i}`,
   * `${model}.${norm}`, and the untied head `${head}.weight`.
   */
  names: { model: string; embed: string; layers: string; norm: string; head: string };
  /** One block (its parameters named under `${model}.${layers}.${i}`). */
  block: Module<L, Tensor, AttentionOutput, AttentionContext>;
  /** The final norm and the names of its parameters (`["weight"]` or with `"bias"`). */
  norm: Module<ParamTree>;
  normParams: readonly string[];
  /** Rotated dimensions per head. */
  rotaryDim: number;
  /** Each block's projections: name within the block, in and out features, biased. */
  projections: readonly (readonly [string, number, number, boolean])[];
  /** Each block's other parameters (its norms), by name within the block. */
  layerShapes: Readonly<Record<string, readonly number[]>>;
  /** The model as a Hugging Face config (what `savePretrained` writes). */
  hf: HfModelConfig;
}

/**
 * A causal language model from a family's spec: `linears` and `shapes` in Hugging Face
 * names (projections `[out, in]`), `init`, and a forward pass with KV cache and left
 * padding through `decoderLayers`.
 */
export function decoderLm<P extends ParamTree, L extends ParamTree>(
  spec: DecoderSpec<L>,
): LanguageModel<P> {
  const { config, names, block, norm } = spec;
  const { vocab, dim, layers } = config;
  const tied = config.tieEmbeddings, theta = config.ropeTheta ?? 10000;
  const rate = config.dropout ?? 0, std = config.initStd ?? 0.02, dtype = config.dtype;
  const stack = `${names.model}.${names.layers}`;

  const linears: LinearInfo[] = [];
  const shapes: Record<string, number[]> = {
    [`${names.model}.${names.embed}.weight`]: [vocab, dim],
  };
  for (let i = 0; i < layers; i++) {
    for (const [name, inDim, outDim, bias] of spec.projections) {
      const at = `${stack}.${i}.${name}`;
      linears.push({ name: at, inDim, outDim, layout: "out_in" });
      shapes[`${at}.weight`] = [outDim, inDim];
      if (bias) shapes[`${at}.bias`] = [outDim];
    }
    for (const [name, shape] of Object.entries(spec.layerShapes)) {
      shapes[`${stack}.${i}.${name}`] = [...shape];
    }
  }
  for (const p of spec.normParams) shapes[`${names.model}.${names.norm}.${p}`] = [dim];
  if (!tied) {
    linears.push({ name: names.head, inDim: dim, outDim: vocab, layout: "out_in" });
    shapes[`${names.head}.weight`] = [vocab, dim];
  }

  type Tree = Record<string, Record<string, ParamTree | undefined> | undefined>;
  const forward = (
    params: P,
    ids: Tensor,
    ctx: LmContext = {},
  ): { logits: Tensor; cache: KVCache } => {
    const tree = params as unknown as Tree;
    const m = tree[names.model] as Record<string, ParamTree>;
    const blocks = m[names.layers] as readonly L[];
    checkLayers(spec.kind, blocks, layers);
    const table = (m[names.embed] as { weight: Tensor }).weight;
    const past = ctx.cache?.length ?? 0;
    const rope = ropeTables(positionsFor(ids, past, ctx), spec.rotaryDim, theta, table);
    const x = applyDropout(table.take(ids), rate, ctx);
    const out = decoderLayers(block, blocks, x, ctx, stack, rope);
    const h = norm.apply(m[names.norm], out.x);
    let logits: Tensor;
    if (tied) logits = matmul(h, table, { transposeB: true });
    else {
      const head = tree[names.head] as { weight: Tensor } | undefined;
      if (!head) {
        throw new ValueError(
          `${spec.kind}: params lack ${names.head}.weight and tieEmbeddings is false (set tieEmbeddings: true?)`,
        );
      }
      logits = project(head, h, "out_in", names.head, { ...ctx, prefix: "" });
    }
    return { logits, cache: out.cache };
  };

  return {
    kind: spec.kind,
    vocab,
    layers,
    context: config.context ?? spec.context,
    linears,
    shapes,
    config: spec.hf,
    init(rng: Rng): P {
      const embed = { weight: randn([vocab, dim], { rng, std, dtype }) };
      const blocks: L[] = [];
      for (let i = 0; i < layers; i++) blocks.push(block.init(rng));
      const model = { [names.embed]: embed, [names.layers]: blocks, [names.norm]: norm.init(rng) };
      const tree: Record<string, ParamTree> = { [names.model]: model };
      if (!tied) tree[names.head] = { weight: randn([vocab, dim], { rng, std, dtype }) };
      return tree as unknown as P;
    },
    apply: (params: P, ids: Tensor, ctx?: LmContext): Tensor => forward(params, ids, ctx).logits,
    forward,
  };
}

/**
 * The shapes of LayerNorms (weight and bias, `[dim]`) named `names`, for a spec's
 * `layerShapes`.
 */
export function layerNormShapes(
  names: readonly string[],
  dim: number,
): Record<string, readonly number[]> {
  const shapes: Record<string, readonly number[]> = {};
  for (const n of names) shapes[`${n}.weight`] = shapes[`${n}.bias`] = [dim];
  return shapes;
}
