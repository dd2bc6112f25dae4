/**
 * LoRA (low-rank adaptation): every targeted projection y = x Wᵀ gains a trainable update
 * (α / r) · dropout(x) Aᵀ Bᵀ with A `[r, in]` and B `[out, r]`. B starts at zero, so the
 * adapted model starts equal to the base. Parameters are `{ base, adapters }`:
 * differentiate only `adapters` to keep the base frozen. Adapter names follow PEFT
 * (`…q_proj.lora_A.weight`).
 * @module
 */
import {
  type BackendName,
  type DType,
  isHalf,
  matmul,
  randn,
  type Rng,
  type Tensor,
  ValueError,
  zeros,
} from "../autograd/mod.ts";
import { applyDropout } from "./dropout.ts";
import type { KVCache, LanguageModel, LinearInfo, LmContext } from "./language_model.ts";
import type { ForwardContext, LinearHook, Module } from "./module.ts";
import { flattenParams, type ParamTree, unflattenParams } from "./params.ts";
import { loadSafetensors, saveSafetensors } from "./safetensors.ts";

/**
 * Options of `lora`.
 *
 * @example
 * ```ts
 * import { llama, lora } from "@lossforge/core";
 * const base = llama({ vocab: 16, dim: 8, layers: 1, heads: 2, hidden: 16 });
 * const model = lora(base, { rank: 8, alpha: 16, dropout: 0.05, targets: ["q_proj", "v_proj"] });
 * console.log(model.targets.map((t) => t.name));
 * // ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"]
 * ```
 */
export interface LoraOptions {
  /** Rank r of the update (default 8). */
  rank?: number;
  /** Scale numerator: the update is multiplied by alpha / rank (default 16). */
  alpha?: number;
  /** Dropout on the adapter's input while training (default 0.05). */
  dropout?: number;
  /**
   * Projections to adapt, by name suffix (`"q_proj"`, `"mlp.down_proj"`) or full name.
   * Default: q_proj and v_proj (Llama), c_attn (GPT-2).
   */
  targets?: readonly string[];
  /** Adapter dtype (default float32). */
  dtype?: DType;
}

/**
 * Parameters of a LoRA model: the frozen base and the trainable adapters.
 *
 * @example
 * ```ts
 * import {
 *   countParams,
 *   llama,
 *   type LlamaParams,
 *   lora,
 *   type LoraParams,
 *   rng,
 * } from "@lossforge/core";
 * const base = llama({ vocab: 16, dim: 8, layers: 1, heads: 2, hidden: 16 });
 * const model = lora(base, { rank: 2, targets: ["q_proj", "v_proj"] });
 * const params: LoraParams<LlamaParams> = model.wrap(base.init(rng(0)), rng(1));
 * console.log(countParams(params.adapters), countParams(params.base)); // 64 920
 * ```
 */
export type LoraParams<P extends ParamTree = ParamTree> = { base: P; adapters: ParamTree };

/**
 * A model with LoRA adapters: a language model over `{ base, adapters }`, plus what it
 * takes to make adapters for existing base weights.
 *
 * @example
 * ```ts
 * import { llama, type LlamaParams, lora, type LoraModel } from "@lossforge/core";
 * const base = llama({ vocab: 8, dim: 4, layers: 1, heads: 1, hidden: 8 });
 * const m: LoraModel<LlamaParams> = lora(base);
 * console.log(m.targets.map((t) => t.name));
 * // ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"]
 * ```
 */
export interface LoraModel<P extends ParamTree = ParamTree> extends LanguageModel<LoraParams<P>> {
  /** The wrapped model. */
  readonly base: LanguageModel<P>;
  /** The adapted projections. */
  readonly targets: readonly LinearInfo[];
  /** The resolved options. */
  readonly options: Readonly<Required<Omit<LoraOptions, "dtype" | "targets">>> & {
    readonly targets: readonly string[];
  };
  /** Fresh adapters (A normal with std 1/r, B zero), on `backend` (default: the current one). */
  initAdapters(rng: Rng, backend?: BackendName): ParamTree;
  /** `{ base, adapters }` for existing base weights, adapters on the base's backend. */
  wrap(base: P, rng: Rng): LoraParams<P>;
  /**
   * The model as a module over the adapters alone, with `base` frozen inside it: what a
   * pipeline trains, checkpoints and saves when fine-tuning (`init` draws fresh adapters on
   * the base's backend; `apply(adapters, ids)` gives the logits).
   *
   * @example
   * ```ts
   * import { llama, lora, pipeline, rng } from "@lossforge/core";
   * const base = llama({ vocab: 259, dim: 16, layers: 1, heads: 2, hidden: 32, context: 32 });
   * const adapted = lora(base, { rank: 2 }).withBase(base.init(rng(0)));
   * const run = pipeline({
   *   model: adapted, // only the adapters are parameters
   *   loss: "ce",
   *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
   *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
   *   steps: 4,
   * });
   * console.log(Object.keys(adapted.init(rng(1)))); // ["model"]: lora_A / lora_B per target
   * ```
   */
  withBase(base: P): Module<ParamTree>;
}

function defaultTargets(model: LanguageModel<ParamTree>): string[] {
  return model.kind === "gpt" ? ["c_attn"] : ["q_proj", "v_proj"];
}

/**
 * Wraps a model with LoRA adapters on the targeted projections.
 *
 * @example
 * ```ts
 * import { llama, lora, rng, tensor, valueAndGrad } from "@lossforge/core";
 * const base = llama({ vocab: 16, dim: 8, layers: 1, heads: 2, hidden: 16 });
 * const model = lora(base, { rank: 2, targets: ["q_proj", "v_proj"] });
 * const params = model.wrap(base.init(rng(0)), rng(1));
 * const ids = tensor([[1, 2, 3]], { dtype: "int32" });
 * // Gradients for the adapters only: the base stays frozen.
 * const [loss, grads] = valueAndGrad((adapters: typeof params.adapters) =>
 *   model.apply({ base: params.base, adapters }, ids).square().mean()
 * )(params.adapters);
 * ```
 */
export function lora<P extends ParamTree>(
  model: LanguageModel<P>,
  opts: LoraOptions = {},
): LoraModel<P> {
  const rank = opts.rank ?? 8, alpha = opts.alpha ?? 16, rate = opts.dropout ?? 0.05;
  if (!Number.isInteger(rank) || rank <= 0) {
    throw new ValueError(`lora: rank must be a positive integer, got ${rank}`);
  }
  const wanted = opts.targets ?? defaultTargets(model as LanguageModel<ParamTree>);
  const targets = model.linears.filter((l) =>
    wanted.some((t) => l.name === t || l.name.endsWith(`.${t}`))
  );
  if (targets.length === 0) {
    const names = [...new Set(model.linears.map((l) => l.name.split(".").pop()))];
    throw new ValueError(
      `lora: targets [${wanted.join(", ")}] match no projection (this model has: ${
        names.join(", ")
      })`,
    );
  }
  const scale = alpha / rank;

  const initAdapters = (rng: Rng, backend?: BackendName): ParamTree => {
    const flat: Record<string, Tensor> = {};
    for (const l of targets) {
      // A ~ N(0, 1/r) and B = 0: training starts from the base model exactly.
      flat[`${l.name}.lora_A.weight`] = randn([rank, l.inDim], {
        rng,
        std: 1 / rank,
        dtype: opts.dtype,
        backend,
      });
      flat[`${l.name}.lora_B.weight`] = zeros([l.outDim, rank], { dtype: opts.dtype, backend });
    }
    return unflattenParams(flat);
  };

  // Adapters on the backend the base weights live on.
  const adaptersOn = (base: P, rng: Rng): ParamTree =>
    initAdapters(rng, flattenParams(base)[targets[0].name + ".weight"]?.backend.name);

  const forward = (
    params: LoraParams<P>,
    ids: Tensor,
    ctx: LmContext = {},
  ): { logits: Tensor; cache: KVCache } => {
    const flat = flattenParams(params.adapters);
    const outer = ctx.adapt;
    const adapt: LinearHook = (name, x, y, c) => {
      const out = outer ? outer(name, x, y, c) : y;
      const a = flat[`${name}.lora_A.weight`], b = flat[`${name}.lora_B.weight`];
      if (!a || !b) return out;
      const low = matmul(applyDropout(x, rate, c), a, { transposeB: true });
      return out.add(matmul(low, b, { transposeB: true }).mul(scale));
    };
    return model.forward(params.base, ids, { ...ctx, adapt });
  };

  return {
    kind: model.kind,
    vocab: model.vocab,
    layers: model.layers,
    context: model.context,
    linears: model.linears,
    shapes: model.shapes,
    base: model,
    targets,
    options: { rank, alpha, dropout: rate, targets: wanted },
    initAdapters,
    wrap: (base: P, rng: Rng): LoraParams<P> => ({ base, adapters: adaptersOn(base, rng) }),
    withBase: (base: P): Module<ParamTree> => ({
      init: (rng: Rng) => adaptersOn(base, rng),
      apply: (adapters: ParamTree, ids: Tensor, ctx?: ForwardContext) =>
        forward({ base, adapters }, ids, ctx).logits,
    }),
    init: (rng: Rng): LoraParams<P> => ({ base: model.init(rng), adapters: initAdapters(rng) }),
    apply: (params: LoraParams<P>, ids: Tensor, ctx?: LmContext): Tensor =>
      forward(params, ids, ctx).logits,
    forward,
  };
}

/**
 * Folds the adapters into the base weights: W + (α / r) B A (transposed for GPT-2's
 * `[in, out]` layout). Returns a tree like the base; untouched tensors are shared with it.
 * A half-precision base weight (`loadPretrained(dir, { dtype: "keep" })`) is widened: its
 * merged weight is float32 (untouched half tensors stay as they are).
 *
 * @example
 * ```ts
 * import { llama, lora, mergeLora, rng } from "@lossforge/core";
 * const model = lora(llama({ vocab: 8, dim: 4, layers: 1, heads: 1, hidden: 8 }), { rank: 2 });
 * const merged = mergeLora(model, model.init(rng(0)));
 * console.log(Object.keys(merged)); // ["model", "lm_head"]: a plain Llama tree again
 * ```
 */
export function mergeLora<P extends ParamTree>(model: LoraModel<P>, params: LoraParams<P>): P {
  const flat = { ...flattenParams(params.base) };
  const adapters = flattenParams(params.adapters);
  const scale = model.options.alpha / model.options.rank;
  for (const l of model.targets) {
    const a = adapters[`${l.name}.lora_A.weight`], b = adapters[`${l.name}.lora_B.weight`];
    const w = flat[`${l.name}.weight`];
    if (!a || !b) continue;
    if (!w) throw new ValueError(`mergeLora: base params lack ${l.name}.weight`);
    const delta = l.layout === "out_in"
      ? matmul(b, a)
      : matmul(a, b, { transposeA: true, transposeB: true });
    const wide = isHalf(w.dtype) ? w.cast("float32") : w;
    flat[`${l.name}.weight`] = wide.add(delta.mul(scale));
  }
  return unflattenParams(flat) as P;
}

/** PEFT's prefix for adapter names, so files load in Python's `peft` too. */
const PEFT_PREFIX = "base_model.model.";

/**
 * Saves only the adapters (PEFT names, rank/alpha/targets in the metadata), atomically.
 *
 * @example
 * ```ts
 * import { llama, lora, rng, saveLora } from "@lossforge/core";
 * const model = lora(llama({ vocab: 8, dim: 4, layers: 1, heads: 1, hidden: 8 }), { rank: 2 });
 * await saveLora("adapter_model.safetensors", model, model.init(rng(0)).adapters);
 * ```
 */
export async function saveLora<P extends ParamTree>(
  path: string | URL,
  model: LoraModel<P>,
  adapters: ParamTree,
): Promise<void> {
  const flat = flattenParams(adapters);
  const prefixed = Object.fromEntries(
    Object.entries(flat).map(([k, v]) => [`${PEFT_PREFIX}${k}`, v]),
  );
  const o = model.options;
  await saveSafetensors(path, unflattenParams(prefixed), {
    format: "pt",
    lora_rank: String(o.rank),
    lora_alpha: String(o.alpha),
    lora_targets: JSON.stringify(o.targets),
  });
}

/**
 * Loads adapters saved by `saveLora` (or PEFT), with the rank and alpha stored beside them.
 *
 * @example
 * ```ts
 * import { loadLora } from "@lossforge/core";
 * const { adapters, rank, alpha } = await loadLora("adapter_model.safetensors");
 * ```
 */
export async function loadLora(
  path: string | URL,
): Promise<{ adapters: ParamTree; rank?: number; alpha?: number; targets?: string[] }> {
  const { params, metadata } = await loadSafetensors(path);
  const flat = flattenParams(params);
  const stripped = Object.fromEntries(
    Object.entries(flat).map((
      [k, v],
    ) => [k.startsWith(PEFT_PREFIX) ? k.slice(PEFT_PREFIX.length) : k, v]),
  );
  const num = (s?: string) => (s === undefined ? undefined : Number(s));
  return {
    adapters: unflattenParams(stripped),
    rank: num(metadata.lora_rank),
    alpha: num(metadata.lora_alpha),
    targets: metadata.lora_targets ? JSON.parse(metadata.lora_targets) : undefined,
  };
}
