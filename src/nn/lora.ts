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
import { writeFileAtomic } from "../util/atomic.ts";
import { isObject, show } from "../util/show.ts";
import { applyDropout } from "./dropout.ts";
import type { KVCache, LanguageModel, LinearInfo, LmContext } from "./language_model.ts";
import type { ForwardContext, LinearHook, Module } from "./module.ts";
import { flattenParams, type ParamTree, unflattenParams } from "./params.ts";
import { loadSafetensors, saveSafetensors } from "./safetensors.ts";

/**
 * A named set of LoRA targets, chosen per model family by `model.kind` (see `LORA_PRESETS`):
 * `"paper"` is what the paper adapts, `"attention"` the attention projections alone.
 *
 * @example
 * ```ts
 * import { gpt, lora, type LoraPreset } from "@lossforge/core";
 * const preset: LoraPreset = "attention";
 * const model = lora(gpt({ vocab: 8, context: 4, layers: 1, dim: 4, heads: 1 }), { targets: preset });
 * console.log(model.options.targets); // ["c_attn", "attn.c_proj"]
 * ```
 */
export type LoraPreset = "paper" | "attention";

/**
 * The LoRA target presets, by model kind: module-name suffixes as PEFT's `target_modules`
 * takes them. `paper` follows the paper's setup: GPT-NeoX (Pythia, RedPajama-INCITE) adapts
 * the fused `query_key_value`; Falcon every linear of a block; Llama and StableLM every
 * projection of a block plus `lm_head`. GPT-2 is not in the paper; its `paper` preset adapts
 * every linear of a block (`c_attn`, both `c_proj`, `c_fc`), the same choice as Falcon's and
 * Llama's. A tied output head (`tieEmbeddings`, every GPT-2) is the token embedding, not a
 * linear of its own, so `lm_head` is skipped there: the preset adapts the other projections.
 *
 * @example
 * ```ts
 * import { LORA_PRESETS } from "@lossforge/core";
 * console.log(LORA_PRESETS.gptneox.paper); // ["query_key_value"]
 * console.log(LORA_PRESETS.llama.attention); // ["q_proj", "k_proj", "v_proj", "o_proj"]
 * ```
 */
export const LORA_PRESETS: Readonly<
  Record<string, Readonly<Record<LoraPreset, readonly string[]>>>
> = (() => {
  const attention = ["q_proj", "k_proj", "v_proj", "o_proj"];
  const llamaLike = {
    paper: [...attention, "gate_proj", "up_proj", "down_proj", "lm_head"],
    attention,
  };
  return Object.freeze({
    llama: llamaLike,
    stablelm: llamaLike,
    gptneox: { paper: ["query_key_value"], attention: ["query_key_value", "attention.dense"] },
    falcon: {
      paper: ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
      attention: ["query_key_value", "self_attention.dense"],
    },
    gpt: { paper: ["c_attn", "c_proj", "c_fc"], attention: ["c_attn", "attn.c_proj"] },
  });
})();

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
   * Projections to adapt: a preset of the model's family (`"paper"`, `"attention"`; see
   * `LORA_PRESETS`), or module names by suffix (`"q_proj"`, `"mlp.down_proj"`) or in full,
   * each of which must match a projection. Default: q_proj and v_proj (Llama), c_attn
   * (GPT-2).
   */
  targets?: LoraPreset | readonly string[];
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
  /**
   * The resolved options; `targets` is the module names in use (a preset's entries this
   * model has), what `saveLora` writes as PEFT's `target_modules`.
   */
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

/** PEFT's default targets per family: the query and value projections (fused where fused). */
function defaultTargets(model: LanguageModel<ParamTree>): string[] {
  switch (model.kind) {
    case "gpt":
      return ["c_attn"];
    case "gptneox":
    case "falcon":
      return ["query_key_value"];
    default:
      return ["q_proj", "v_proj"];
  }
}

/** Whether module `name` is what target `t` names: the full name or a dotted suffix of it. */
function matches(name: string, t: string): boolean {
  return name === t || name.endsWith(`.${t}`);
}

/**
 * The module names `targets` asks for and the projections they select. A preset keeps
 * only its entries this model has (a tied head has no `lm_head`); a list must match in
 * every entry, so a misspelt name is an error rather than a projection silently left out.
 */
function resolveTargets(
  model: LanguageModel<ParamTree>,
  targets: LoraOptions["targets"],
): { names: string[]; linears: LinearInfo[] } {
  // Names without layer numbers: what a user can write as a target.
  const have = [...new Set(model.linears.map((l) => l.name.replace(/^.*\.\d+\./, "")))];
  const listed = `this model's projections: ${have.join(", ")}`;
  let names: string[];
  if (typeof targets === "string") {
    if (targets !== "paper" && targets !== "attention") {
      throw new ValueError(
        `lora: targets ${show(targets)} is not a preset (paper, attention) or a list of ` +
          `module names; ${listed}`,
      );
    }
    const preset = LORA_PRESETS[model.kind];
    if (!preset) {
      throw new ValueError(
        `lora: targets "${targets}" has no preset for model kind "${model.kind}" (presets: ${
          Object.keys(LORA_PRESETS).join(", ")
        }); give a list from ${listed}`,
      );
    }
    names = preset[targets].filter((t) => model.linears.some((l) => matches(l.name, t)));
  } else {
    names = [...(targets ?? defaultTargets(model))];
    const unmatched = names.filter((t) => !model.linears.some((l) => matches(l.name, t)));
    if (unmatched.length && unmatched.length < names.length) {
      throw new ValueError(
        `lora: targets [${unmatched.join(", ")}] match no projection (${listed})`,
      );
    }
  }
  const linears = model.linears.filter((l) => names.some((t) => matches(l.name, t)));
  if (linears.length === 0) {
    throw new ValueError(
      `lora: targets ${
        typeof targets === "string" ? `"${targets}"` : `[${names.join(", ")}]`
      } match no projection (${listed})`,
    );
  }
  return { names, linears };
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
  const resolved = resolveTargets(model as LanguageModel<ParamTree>, opts.targets);
  const wanted = resolved.names, targets = resolved.linears;
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
    config: model.config,
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
/** The file names of a PEFT adapter folder. */
const ADAPTER_FILE = "adapter_model.safetensors", CONFIG_FILE = "adapter_config.json";

/**
 * Options of `saveLora`.
 *
 * @example
 * ```ts
 * import { llama, lora, rng, saveLora, type SaveLoraOptions } from "@lossforge/core";
 * const model = lora(llama({ vocab: 8, dim: 4, layers: 1, heads: 1, hidden: 8 }), { rank: 2 });
 * const opts: SaveLoraOptions = { baseModel: "HuggingFaceTB/SmolLM2-135M" };
 * await saveLora("adapter", model, model.init(rng(0)).adapters, opts);
 * ```
 */
export interface SaveLoraOptions {
  /**
   * The base model's Hugging Face id or folder, written as `base_model_name_or_path` (what
   * PEFT's `AutoPeftModelForCausalLM` loads the base from). Default: null.
   */
  baseModel?: string;
}

/**
 * The `adapter_config.json` PEFT 0.21 writes for these options: every field it writes, with
 * PEFT's defaults for what lossforge has no counterpart of. Keys are sorted, as PEFT writes
 * them. `fan_in_fan_out` is true for GPT-2's Conv1D weights (stored `[in, out]`).
 *
 * @example
 * ```ts
 * import { llama, lora, peftAdapterConfig } from "@lossforge/core";
 * const model = lora(llama({ vocab: 8, dim: 4, layers: 1, heads: 1, hidden: 8 }), { rank: 2 });
 * const cfg = peftAdapterConfig(model);
 * console.log(cfg.peft_type, cfg.r, cfg.lora_alpha, cfg.target_modules);
 * // "LORA" 2 16 ["q_proj", "v_proj"]
 * ```
 */
export function peftAdapterConfig<P extends ParamTree>(
  model: LoraModel<P>,
  opts: SaveLoraOptions = {},
): Record<string, unknown> {
  const o = model.options;
  const config: Record<string, unknown> = {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: opts.baseModel ?? null,
    bias: "none",
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: model.targets.some((t) => t.layout === "in_out"),
    inference_mode: true,
    init_lora_weights: true,
    kasa_config: null,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: o.alpha,
    lora_bias: false,
    lora_dropout: o.dropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: "megatron.core",
    modules_to_save: null,
    monteclora_config: null,
    peft_type: "LORA",
    // The PEFT release whose adapter_config.json schema this follows.
    peft_version: "0.21.0",
    qalora_group_size: 16,
    r: o.rank,
    rank_pattern: {},
    revision: null,
    target_modules: [...o.targets],
    target_parameters: null,
    task_type: "CAUSAL_LM",
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: false,
    velora_config: null,
  };
  return config;
}

/**
 * Saves only the adapters, atomically, with PEFT's tensor names (`base_model.model.<module>.
 * lora_A.weight`). A path ending in `.safetensors` is that one file (rank, alpha and targets
 * in its metadata); any other path is a PEFT adapter folder, created if needed, holding
 * `adapter_model.safetensors` and `adapter_config.json`, which Python's
 * `PeftModel.from_pretrained(base, path)` loads.
 *
 * PEFT itself also stores the base weight of a targeted `lm_head` beside its adapter
 * (`lm_head.base_layer.weight`, its `save_embedding_layers="auto"`); this writes what PEFT
 * writes with `save_embedding_layers=False`, since the base is unchanged here.
 *
 * @example
 * ```ts
 * import { llama, lora, rng, saveLora } from "@lossforge/core";
 * const model = lora(llama({ vocab: 8, dim: 4, layers: 1, heads: 1, hidden: 8 }), { rank: 2 });
 * await saveLora("adapter_model.safetensors", model, model.init(rng(0)).adapters);
 * // A folder Python's PEFT loads on the same base:
 * await saveLora("my-adapter", model, model.init(rng(0)).adapters, { baseModel: "base-dir" });
 * ```
 */
export async function saveLora<P extends ParamTree>(
  path: string | URL,
  model: LoraModel<P>,
  adapters: ParamTree,
  opts: SaveLoraOptions = {},
): Promise<void> {
  const flat = flattenParams(adapters);
  const prefixed = Object.fromEntries(
    Object.entries(flat).map(([k, v]) => [`${PEFT_PREFIX}${k}`, v]),
  );
  const o = model.options;
  const metadata = {
    format: "pt",
    lora_rank: String(o.rank),
    lora_alpha: String(o.alpha),
    lora_targets: JSON.stringify(o.targets),
  };
  const target = pathOf(path);
  if (target.endsWith(".safetensors")) {
    await saveSafetensors(target, unflattenParams(prefixed), metadata);
    return;
  }
  await Deno.mkdir(target, { recursive: true });
  await saveSafetensors(`${target}/${ADAPTER_FILE}`, unflattenParams(prefixed), metadata);
  const config = JSON.stringify(peftAdapterConfig(model, opts), null, 2) + "\n";
  await writeFileAtomic(`${target}/${CONFIG_FILE}`, config);
}

/**
 * Adapters read back by `loadLora`, with what `lora` needs to apply them.
 *
 * @example
 * ```ts
 * import { loadLora, type LoadedLora } from "@lossforge/core";
 * const saved: LoadedLora = await loadLora("my-adapter");
 * console.log(saved.rank, saved.alpha, saved.targets);
 * ```
 */
export interface LoadedLora {
  /** `lora_A` / `lora_B` weights by module name (PEFT's prefix removed). */
  adapters: ParamTree;
  /** Rank r, when recorded. */
  rank?: number;
  /** Alpha, when recorded. */
  alpha?: number;
  /** Target module names, when recorded. */
  targets?: string[];
  /** Adapter dropout (`lora_dropout`), when recorded. */
  dropout?: number;
  /** `base_model_name_or_path`, when recorded. */
  baseModel?: string;
  /**
   * Base weights stored with the adapter, by module weight name (`lm_head.weight`): PEFT
   * saves a targeted `lm_head`'s base weight as `lm_head.base_layer.weight`. Empty for
   * adapters saved here.
   */
  baseWeights: Record<string, Tensor>;
}

/**
 * Loads adapters saved by `saveLora` or by Python's PEFT: a PEFT folder
 * (`adapter_model.safetensors` and `adapter_config.json`) or one `.safetensors` file (with
 * an `adapter_config.json` beside it when its metadata has no rank). PEFT options lossforge
 * does not implement (DoRA, rsLoRA, bias training, rank or alpha patterns, modules_to_save)
 * are errors naming the field.
 *
 * @example
 * ```ts
 * import { loadLora, loadPretrained, lora } from "@lossforge/core";
 * const pre = await loadPretrained("models/SmolLM2-135M");
 * const { adapters, rank, alpha, targets } = await loadLora("my-adapter");
 * const model = lora(pre.model, { rank, alpha, targets });
 * const params = { base: pre.params, adapters };
 * ```
 */
export async function loadLora(path: string | URL): Promise<LoadedLora> {
  let file = pathOf(path).replace(/\/+$/, "");
  const folder = await isDirectory(file);
  if (folder) file = `${file}/${ADAPTER_FILE}`;
  const { params, metadata } = await loadSafetensors(file);
  const adapters: Record<string, Tensor> = {}, baseWeights: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(flattenParams(params))) {
    const name = k.startsWith(PEFT_PREFIX) ? k.slice(PEFT_PREFIX.length) : k;
    const base = name.match(/^(.*)\.base_layer\.(weight|bias)$/);
    if (base) baseWeights[`${base[1]}.${base[2]}`] = v;
    else adapters[name] = v;
  }
  const loaded: LoadedLora = { adapters: unflattenParams(adapters), baseWeights };
  if (metadata.lora_rank !== undefined) {
    loaded.rank = Number(metadata.lora_rank);
    if (metadata.lora_alpha !== undefined) loaded.alpha = Number(metadata.lora_alpha);
    if (metadata.lora_targets) loaded.targets = JSON.parse(metadata.lora_targets);
  }
  const configPath = file.replace(/[^/]*$/, CONFIG_FILE);
  if ((folder || loaded.rank === undefined) && await isFile(configPath)) {
    readPeftConfig(configPath, await Deno.readTextFile(configPath), loaded);
  }
  return loaded;
}

/** Fills `into` from a PEFT `adapter_config.json`, refusing what lossforge cannot apply. */
function readPeftConfig(source: string, text: string, into: LoadedLora): void {
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new ValueError(`${source}: invalid JSON: ${(e as Error).message}`);
  }
  if (!isObject(cfg)) throw new ValueError(`${source}: expected a JSON object, got ${show(cfg)}`);
  const bad = (field: string, why: string): never => {
    throw new ValueError(`${source}: ${field} = ${show(cfg[field])}: ${why}`);
  };
  if (cfg.peft_type !== undefined && cfg.peft_type !== "LORA") {
    bad("peft_type", "not a LoRA adapter");
  }
  const unsupported: [string, (v: unknown) => boolean][] = [
    ["use_dora", (v) => v === true],
    ["use_rslora", (v) => v === true],
    ["lora_bias", (v) => v === true],
    ["bias", (v) => v !== undefined && v !== "none"],
    ["rank_pattern", (v) => isObject(v) && Object.keys(v).length > 0],
    ["alpha_pattern", (v) => isObject(v) && Object.keys(v).length > 0],
    ["modules_to_save", (v) => Array.isArray(v) && v.length > 0],
    ["layers_to_transform", (v) => v !== undefined && v !== null],
    ["layer_replication", (v) => v !== undefined && v !== null],
  ];
  for (const [field, isSet] of unsupported) {
    if (isSet(cfg[field])) bad(field, "not supported by lossforge's LoRA");
  }
  const positive = (field: string): number | undefined => {
    const v = cfg[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !(v > 0)) bad(field, "expected a positive number");
    return v as number;
  };
  into.rank = positive("r") ?? into.rank;
  into.alpha = positive("lora_alpha") ?? into.alpha;
  if (typeof cfg.lora_dropout === "number") into.dropout = cfg.lora_dropout;
  if (typeof cfg.base_model_name_or_path === "string") {
    into.baseModel = cfg.base_model_name_or_path;
  }
  const t = cfg.target_modules;
  if (typeof t === "string") {
    bad("target_modules", "a regular expression; lossforge takes a list of module names");
  }
  if (Array.isArray(t)) {
    if (!t.every((x) => typeof x === "string")) bad("target_modules", "expected module names");
    into.targets = t as string[];
  }
}

function pathOf(path: string | URL): string {
  return path instanceof URL ? decodeURIComponent(path.pathname) : path;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
