/**
 * Loading a Hugging Face model folder (`config.json`, `model.safetensors` or shards with
 * `model.safetensors.index.json`, `tokenizer.json`) into a lossforge model, its
 * parameters and its tokenizer.
 * @module
 */
import { ensureBackend } from "../autograd/backend.ts";
import { type BackendName, ValueError } from "../autograd/mod.ts";
import { type BpeTokenizer, loadTokenizer } from "../tokenizers/mod.ts";
import { falcon } from "./falcon.ts";
import { gpt } from "./gpt.ts";
import { gptNeoX } from "./gpt_neox.ts";
import { type HfModelConfig, parseHfConfig } from "./hf_config.ts";
import type { LanguageModel } from "./language_model.ts";
import { llama } from "./llama.ts";
import { stableLm } from "./stablelm.ts";
import { activationFn } from "./activation.ts";
import { type ParamTree, unflattenParams } from "./params.ts";
import {
  bf16ToF32,
  type DecodedTensor,
  f16ToF32,
  loadShardedIndex,
  readSafetensorsFile,
} from "./safetensors_codec.ts";
import { tensorsFrom } from "./safetensors.ts";
import { parsingAsync } from "../util/parse_error.ts";

/**
 * What `loadPretrained` returns.
 *
 * @example
 * ```ts
 * import { loadPretrained, type Pretrained } from "@lossforge/core";
 * const { config, model, tokenizer }: Pretrained = await loadPretrained("models/SmolLM2-135M");
 * console.log(config.architecture, model.layers, tokenizer.vocabSize);
 * // "LlamaForCausalLM" 30 49152
 * ```
 */
export interface Pretrained {
  /** The model, built from the config. */
  model: LanguageModel;
  /** Its parameters, keyed by Hugging Face names. */
  params: ParamTree;
  /** The tokenizer from `tokenizer.json`. */
  tokenizer: BpeTokenizer;
  /** The normalised `config.json`. */
  config: HfModelConfig;
}

/**
 * Options of `loadPretrained`.
 *
 * @example
 * ```ts
 * import { loadPretrained } from "@lossforge/core";
 * // On the CPU, tolerating tensors the model does not use (e.g. a value head).
 * const { params } = await loadPretrained("models/SmolLM2-135M", {
 *   backend: "cpu",
 *   strict: false,
 * });
 * // A bf16 checkpoint as a frozen LoRA base: its matrices stay 2 bytes per weight.
 * const base = await loadPretrained("models/SmolLM2-135M-bf16", { dtype: "keep" });
 * ```
 */
export interface LoadPretrainedOptions {
  /** Where the parameters go (default: the current backend). */
  backend?: BackendName;
  /** Throw on tensors the model does not use (default true); missing ones always throw. */
  strict?: boolean;
  /**
   * How BF16 / F16 weights are held: `"float32"` (default) widens them (exact), `"keep"`
   * keeps every matrix (rank ≥ 2: projections, embeddings, heads) as a `bfloat16` /
   * `float16` tensor of 2 bytes per weight, for a frozen base under LoRA (matmul and take
   * widen it to float32 as they read it); 1-D weights (norm weights, biases) are widened to
   * float32 at load either way, being small and read by elementwise ops. F32 files load the
   * same in both modes.
   */
  dtype?: "float32" | "keep";
}

/**
 * Buffers some checkpoints carry that are not parameters here: GPT-2's and GPT-NeoX's
 * causal-mask buffers, rotary frequency tables.
 */
const IGNORED = [
  /\.attn\.(masked_)?bias$/,
  /\.attention\.(masked_)?bias$/,
  /\.rotary_emb\.inv_freq$/,
];

/**
 * Builds the lossforge model a normalised config describes.
 *
 * @example
 * ```ts
 * import { modelFromConfig, parseHfConfig } from "@lossforge/core";
 * const cfg = parseHfConfig({
 *   architectures: ["GPT2LMHeadModel"], vocab_size: 16, n_embd: 8, n_layer: 1, n_head: 2,
 *   n_positions: 8,
 * });
 * console.log(modelFromConfig(cfg).kind); // "gpt"
 * ```
 */
export function modelFromConfig(config: HfModelConfig): LanguageModel {
  const act = config.activation, arch = config.architecture;
  const common = {
    vocab: config.vocab,
    dim: config.dim,
    layers: config.layers,
    heads: config.heads,
    hidden: config.hidden,
    ropeTheta: config.ropeTheta,
    normEps: config.normEps,
    tieEmbeddings: config.tieEmbeddings,
    context: config.context,
  };
  // Checked here rather than at the first forward pass, naming the config's own field.
  const activation = (field: string) => {
    activationFn(act, `config.json: ${field}`);
    return act;
  };
  switch (arch) {
    case "GPT2LMHeadModel":
      if (act !== "gelu_new" && act !== "gelu_pytorch_tanh") {
        throw new ValueError(
          `config.json: activation_function "${act}" is not supported for GPT2LMHeadModel (gelu_new)`,
        );
      }
      return gpt({ ...common, normEps: config.normEps });
    case "GPTNeoXForCausalLM":
      return gptNeoX({
        ...common,
        rotaryFraction: config.rotaryFraction,
        parallelResidual: config.parallelResidual,
        attentionBias: config.qkvBias,
        activation: activation("hidden_act"),
      });
    case "StableLmForCausalLM":
      return stableLm({
        ...common,
        kvHeads: config.kvHeads,
        rotaryFraction: config.rotaryFraction,
        qkvBias: config.qkvBias,
        qkNorm: config.qkNorm,
        parallelResidual: config.parallelResidual,
        activation: activation("hidden_act"),
      });
    case "FalconForCausalLM":
      return falcon({
        ...common,
        kvHeads: config.kvHeads,
        bias: config.qkvBias,
        parallelResidual: config.parallelResidual,
        parallelNorms: config.parallelNorms,
        activation: activation("activation"),
      });
    case "LlamaForCausalLM":
    case "Qwen2ForCausalLM":
      if (act !== "silu") {
        throw new ValueError(
          `config.json: hidden_act "${act}" is not supported for ${arch} (silu)`,
        );
      }
      return llama({
        ...common,
        kvHeads: config.kvHeads,
        headDim: config.headDim,
        qkvBias: config.qkvBias,
      });
  }
}

/**
 * Loads a Hugging Face model folder: `LlamaForCausalLM` (Llama 2/3, TinyLlama, SmolLM),
 * `Qwen2ForCausalLM`, `GPTNeoXForCausalLM` (Pythia, RedPajama-INCITE), `StableLmForCausalLM`,
 * `FalconForCausalLM` or `GPT2LMHeadModel`, from one `model.safetensors` or shards. Missing
 * tensors (and, when strict, unexpected ones) are listed in the error; shapes are checked.
 * With `dtype: "keep"` a bfloat16/float16 base stays 2 bytes per weight.
 *
 * @example
 * ```ts
 * import { loadPretrained, tensor } from "@lossforge/core";
 * const { model, params, tokenizer } = await loadPretrained("models/SmolLM2-135M");
 * const ids = tensor([tokenizer.encode("Hello")], { dtype: "int32" });
 * console.log(model.apply(params, ids).shape);
 * ```
 */
export async function loadPretrained(
  dir: string | URL,
  opts: LoadPretrainedOptions = {},
): Promise<Pretrained> {
  return await parsingAsync(() => loadPretrainedFolder(dir, opts));
}

async function loadPretrainedFolder(
  dir: string | URL,
  opts: LoadPretrainedOptions = {},
): Promise<Pretrained> {
  await ensureBackend();
  const base = (dir instanceof URL ? decodeURIComponent(dir.pathname) : dir).replace(/\/+$/, "");
  const configPath = `${base}/config.json`;
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(configPath));
  } catch (e) {
    throw new Error(`${configPath}: cannot read config: ${(e as Error).message}`);
  }
  const config = parseHfConfig(raw, configPath);
  checkRope(raw, configPath);
  // The folder's own config (its token ids, its architecture) rides with the model.
  const model: LanguageModel = { ...modelFromConfig(config), config };
  const tokenizer = await loadTokenizer(`${base}/tokenizer.json`);
  const dtype = opts.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "keep") {
    throw new ValueError(`loadPretrained: dtype must be "float32" or "keep", got "${dtype}"`);
  }
  const decoded = await readWeights(base, dtype);
  const named = normaliseNames(decoded, config);
  const flat = selectWeights(named, model, base, opts.strict ?? true);
  return { model, params: unflattenParams(tensorsFrom(flat, opts.backend)), tokenizer, config };
}

/** RoPE variants that change the frequencies (llama3, yarn, linear...) are not implemented. */
function checkRope(raw: unknown, source: string): void {
  const cfg = raw as Record<string, unknown>;
  for (const field of ["rope_scaling", "rope_parameters"]) {
    const v = cfg[field] as Record<string, unknown> | null | undefined;
    const type = v?.rope_type ?? v?.type;
    if (type !== undefined && type !== "default") {
      throw new ValueError(`${source}: ${field}.rope_type "${type}" is not supported (default)`);
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Every tensor of the single file or of all shards, each read from its file straight into
 * the array it is held in (no copy of a file in memory). With "keep", BF16/F16 matrices stay
 * raw half bits and smaller half tensors are widened.
 */
async function readWeights(
  base: string,
  dtype: "float32" | "keep",
): Promise<Record<string, DecodedTensor>> {
  const read = async (path: string) => {
    const { tensors } = await readSafetensorsFile(path, { half: dtype });
    for (const t of Object.values(tensors)) {
      if (t.data instanceof Uint16Array && t.shape.length < 2) {
        t.data = t.dtype === "F16" ? f16ToF32(t.data) : bf16ToF32(t.data);
      }
    }
    return tensors;
  };
  const single = `${base}/model.safetensors`;
  if (await exists(single)) return await read(single);
  if (!(await exists(`${base}/model.safetensors.index.json`))) {
    throw new Error(
      `${base}: no model.safetensors or model.safetensors.index.json (only safetensors weights are supported)`,
    );
  }
  const index = await loadShardedIndex(base);
  const all: Record<string, DecodedTensor> = {};
  for (const shard of index.shards) {
    Object.assign(all, await read(shard));
  }
  const absent = Object.keys(index.weightMap).filter((n) => !(n in all));
  if (absent.length) {
    throw new Error(
      `${base}/model.safetensors.index.json lists tensors no shard holds: ${list(absent)}`,
    );
  }
  return all;
}

/**
 * Checkpoint names as the model names its parameters: the original GPT-2 checkpoints omit
 * the `transformer.` prefix (added back); a GPT-NeoX head saved under transformers 5's
 * module name `lm_head` is `embed_out` in checkpoints and here; a stored copy of a tied
 * head is dropped (it equals the embedding).
 */
function normaliseNames(
  decoded: Record<string, DecodedTensor>,
  config: HfModelConfig,
): Record<string, DecodedTensor> {
  const arch = config.architecture;
  const out: Record<string, DecodedTensor> = {};
  for (const [name, t] of Object.entries(decoded)) {
    let key = name;
    if (
      arch === "GPT2LMHeadModel" && !name.startsWith("transformer.") && name !== "lm_head.weight"
    ) {
      key = `transformer.${name}`;
    } else if (arch === "GPTNeoXForCausalLM" && name === "lm_head.weight") key = "embed_out.weight";
    if (config.tieEmbeddings && (key === "lm_head.weight" || key === "embed_out.weight")) continue;
    out[key] = t;
  }
  return out;
}

function list(names: string[]): string {
  const shown = names.slice(0, 20).join(", ");
  return names.length > 20 ? `${shown}, … (${names.length} in all)` : shown;
}

/** The tensors the model needs, checked for presence and shape. */
function selectWeights(
  named: Record<string, DecodedTensor>,
  model: LanguageModel,
  source: string,
  strict: boolean,
): Record<string, DecodedTensor> {
  const missing: string[] = [], unexpected: string[] = [], wrong: string[] = [];
  const flat: Record<string, DecodedTensor> = {};
  for (const [name, shape] of Object.entries(model.shapes)) {
    const t = named[name];
    if (!t) missing.push(name);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      wrong.push(`${name} is [${t.shape}], expected [${shape}]`);
    } else flat[name] = t;
  }
  for (const name of Object.keys(named)) {
    if (name in model.shapes || IGNORED.some((re) => re.test(name))) continue;
    // A tied head may still be stored; it equals the embedding.
    if (name === "lm_head.weight") continue;
    unexpected.push(name);
  }
  const problems: string[] = [];
  if (missing.length) problems.push(`missing tensors: ${list(missing)}`);
  if (wrong.length) problems.push(`wrong shapes: ${list(wrong)}`);
  if (strict && unexpected.length) problems.push(`unexpected tensors: ${list(unexpected)}`);
  if (problems.length) {
    throw new Error(`${source}: weights do not fit the model: ${problems.join("; ")}`);
  }
  return flat;
}
