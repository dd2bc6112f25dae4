/**
 * Parse Hugging Face `config.json` files (Llama, Qwen2, SmolLM, GPT-2) into one normalized
 * shape.
 *
 * @module
 */

import { isObject, show } from "../util/show.ts";
import { parsing, parsingAsync } from "../util/parse_error.ts";

/**
 * The architectures {@linkcode parseHfConfig} understands.
 *
 * @example
 * ```ts
 * import { type HfArchitecture, loadHfConfig } from "@lossforge/core";
 * const arch: HfArchitecture = (await loadHfConfig("models/Qwen2-0.5B/")).architecture;
 * console.log(arch); // "Qwen2ForCausalLM"
 * ```
 */
export type HfArchitecture = "LlamaForCausalLM" | "Qwen2ForCausalLM" | "GPT2LMHeadModel";

/**
 * The supported architectures, in a list.
 *
 * @example
 * ```ts
 * import { SUPPORTED_ARCHITECTURES } from "@lossforge/core";
 * console.log(SUPPORTED_ARCHITECTURES.includes("GPT2LMHeadModel")); // true
 * ```
 */
export const SUPPORTED_ARCHITECTURES: readonly HfArchitecture[] = [
  "LlamaForCausalLM",
  "Qwen2ForCausalLM",
  "GPT2LMHeadModel",
];

/**
 * A normalized model configuration.
 *
 * @example
 * ```ts
 * import { type HfModelConfig, loadHfConfig } from "@lossforge/core";
 * const cfg: HfModelConfig = await loadHfConfig("models/tiny-llama-hf/");
 * console.log(cfg.kvHeads * cfg.headDim); // 32: the width of k_proj and v_proj
 * ```
 */
export interface HfModelConfig {
  /** The model class. */
  architecture: HfArchitecture;
  /** `model_type` (e.g. "llama", "qwen2", "gpt2"). */
  modelType: string;
  /** Vocabulary size (`vocab_size`). */
  vocab: number;
  /** Model width (`hidden_size` / `n_embd`). */
  dim: number;
  /** Number of transformer blocks (`num_hidden_layers` / `n_layer`). */
  layers: number;
  /** Attention heads (`num_attention_heads` / `n_head`). */
  heads: number;
  /** Key/value heads (`num_key_value_heads`, default `heads`; GPT-2: `heads`). */
  kvHeads: number;
  /** Per-head dimension (`head_dim`, default `dim / heads`). */
  headDim: number;
  /** MLP width (`intermediate_size` / `n_inner`, default `4 * n_embd`). */
  hidden: number;
  /** Maximum context (`max_position_embeddings` / `n_positions`). */
  context: number;
  /** RoPE base (`rope_theta` or `rope_parameters.rope_theta`, default 10000; GPT-2: 0). */
  ropeTheta: number;
  /** Norm epsilon (`rms_norm_eps` / `layer_norm_epsilon`). */
  normEps: number;
  /** Whether `lm_head` shares the embedding matrix. */
  tieEmbeddings: boolean;
  /** Whether q/k/v projections have a bias (Qwen2 and GPT-2: always). */
  qkvBias: boolean;
  /** BOS token id, when given. */
  bosTokenId?: number;
  /** EOS token id(s), when given. */
  eosTokenId?: number | number[];
  /** MLP activation (`hidden_act` / `activation_function`). */
  activation: string;
}

/**
 * Normalize a parsed Hugging Face `config.json`.
 *
 * The architecture comes from `architectures[0]` (or, failing that, `model_type`).
 * Unsupported architectures and missing/invalid required fields throw errors naming
 * `source` and the field.
 *
 * @param json The parsed `config.json`.
 * @param source A name for error messages (e.g. the file path).
 * @example
 * ```ts
 * import { parseHfConfig } from "@lossforge/core";
 * const cfg = parseHfConfig({
 *   architectures: ["GPT2LMHeadModel"], vocab_size: 16, n_embd: 8, n_layer: 1, n_head: 2,
 *   n_positions: 8,
 * }, "config.json");
 * console.log(cfg.architecture, cfg.dim, cfg.layers, cfg.kvHeads); // "GPT2LMHeadModel" 8 1 2
 * ```
 */
export function parseHfConfig(json: unknown, source = "config.json"): HfModelConfig {
  return parsing(() => checkHfConfig(json, source));
}

function checkHfConfig(json: unknown, source = "config.json"): HfModelConfig {
  if (!isObject(json)) {
    throw new Error(`${source}: config must be a JSON object, got ${show(json)}`);
  }
  const archs = json.architectures;
  let arch: unknown;
  if (Array.isArray(archs) && archs.length > 0) arch = archs[0];
  else if (archs === undefined || archs === null) {
    const byType: Record<string, HfArchitecture> = {
      llama: "LlamaForCausalLM",
      qwen2: "Qwen2ForCausalLM",
      gpt2: "GPT2LMHeadModel",
    };
    arch = typeof json.model_type === "string" ? byType[json.model_type] : undefined;
    if (arch === undefined) {
      throw new Error(
        `${source}: no "architectures" and unsupported model_type ${
          show(json.model_type)
        } (supported architectures: ${SUPPORTED_ARCHITECTURES.join(", ")})`,
      );
    }
  } else arch = archs;
  if (!SUPPORTED_ARCHITECTURES.includes(arch as HfArchitecture)) {
    throw new Error(
      `${source}: unsupported architecture ${show(arch)} (supported: ${
        SUPPORTED_ARCHITECTURES.join(", ")
      })`,
    );
  }
  const architecture = arch as HfArchitecture;

  const has = (field: string): boolean => json[field] !== undefined && json[field] !== null;
  // A field's value: its fallback when absent (an error when it has none), else checked by
  // `ok` and described as `what` in the error.
  const read = <T>(field: string, what: string, ok: (v: unknown) => v is T, fallback?: T): T => {
    const v = json[field];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${source}: missing required field "${field}" for ${architecture}`);
    }
    if (!ok(v)) throw new Error(`${source}: field "${field}" must be ${what}, got ${show(v)}`);
    return v;
  };
  // Sizes index Int32 shapes; blocks are counted out one by one when the model is declared, so
  // their number is bounded too (far above any published model).
  const isInt = (v: unknown): v is number =>
    typeof v === "number" && Number.isSafeInteger(v) && v > 0 && v <= 2 ** 31 - 1;
  const MAX_LAYERS = 10_000;
  const layerCount = (field: string) =>
    read(
      field,
      `a positive integer up to ${MAX_LAYERS}`,
      (v): v is number => isInt(v) && v <= MAX_LAYERS,
    );
  const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;
  const int = (field: string, fallback?: number) =>
    read(field, "a positive integer below 2^31", isInt, fallback);
  const num = (field: string, fallback?: number) =>
    read(field, "a positive number", isNum, fallback);
  const bool = (field: string, fallback: boolean) =>
    read(field, "a boolean", (v): v is boolean => typeof v === "boolean", fallback);
  const str = (field: string, fallback: string) =>
    read(field, "a string", (v): v is string => typeof v === "string", fallback);
  const tokenIds = (field: string): number | number[] | undefined => {
    const v = json[field];
    if (v === undefined || v === null) return undefined;
    const ok = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 0;
    if (ok(v)) return v;
    if (Array.isArray(v) && v.every(ok)) return v.length === 1 ? v[0] : [...v];
    throw new Error(
      `${source}: field "${field}" must be a token id or a list of ids, got ${show(v)}`,
    );
  };

  let cfg: HfModelConfig;
  if (architecture === "GPT2LMHeadModel") {
    const dim = int("n_embd");
    const heads = int("n_head");
    cfg = {
      architecture,
      modelType: str("model_type", "gpt2"),
      vocab: int("vocab_size"),
      dim,
      layers: layerCount("n_layer"),
      heads,
      kvHeads: heads,
      headDim: dim / heads,
      hidden: int("n_inner", 4 * dim),
      context: int("n_positions"),
      ropeTheta: 0,
      normEps: num("layer_norm_epsilon", 1e-5),
      tieEmbeddings: bool("tie_word_embeddings", true),
      qkvBias: true,
      activation: str("activation_function", "gelu_new"),
    };
  } else {
    const dim = int("hidden_size");
    const heads = int("num_attention_heads");
    const kvHeads = int("num_key_value_heads", heads);
    if (heads % kvHeads !== 0) {
      throw new Error(
        `${source}: num_attention_heads (${heads}) is not a multiple of num_key_value_heads (${kvHeads})`,
      );
    }
    let ropeTheta: number;
    if (has("rope_theta")) ropeTheta = num("rope_theta");
    else if (isObject(json.rope_parameters) && json.rope_parameters.rope_theta !== undefined) {
      const v = json.rope_parameters.rope_theta;
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
        throw new Error(
          `${source}: field "rope_parameters.rope_theta" must be a positive number, got ${show(v)}`,
        );
      }
      ropeTheta = v;
    } else ropeTheta = 10000;
    const qwen = architecture === "Qwen2ForCausalLM";
    cfg = {
      architecture,
      modelType: str("model_type", qwen ? "qwen2" : "llama"),
      vocab: int("vocab_size"),
      dim,
      layers: layerCount("num_hidden_layers"),
      heads,
      kvHeads,
      headDim: int("head_dim", dim / heads),
      hidden: int("intermediate_size"),
      context: int("max_position_embeddings"),
      ropeTheta,
      normEps: num("rms_norm_eps", 1e-6),
      tieEmbeddings: bool("tie_word_embeddings", false),
      qkvBias: qwen ? true : bool("attention_bias", false),
      activation: str("hidden_act", "silu"),
    };
  }
  if (!Number.isInteger(cfg.headDim)) {
    throw new Error(`${source}: hidden size ${cfg.dim} is not divisible by ${cfg.heads} heads`);
  }
  const bos = tokenIds("bos_token_id");
  if (bos !== undefined) {
    if (Array.isArray(bos)) {
      throw new Error(`${source}: field "bos_token_id" must be one id, got ${show(bos)}`);
    }
    cfg.bosTokenId = bos;
  }
  const eos = tokenIds("eos_token_id");
  if (eos !== undefined) cfg.eosTokenId = eos;
  return cfg;
}

/**
 * Read and normalize a `config.json` file (or the `config.json` in a directory).
 *
 * @param path File or directory path.
 * @example
 * ```ts
 * import { loadHfConfig } from "@lossforge/core";
 * const cfg = await loadHfConfig("models/tiny-llama-hf/");
 * console.log(cfg.architecture, cfg.vocab, cfg.layers); // "LlamaForCausalLM" 600 2
 * ```
 */
export async function loadHfConfig(path: string | URL): Promise<HfModelConfig> {
  return await parsingAsync(() => readHfConfig(path));
}

async function readHfConfig(path: string | URL): Promise<HfModelConfig> {
  let file = path instanceof URL ? decodeURIComponent(path.pathname) : path;
  try {
    if ((await Deno.stat(file)).isDirectory) file = file.replace(/\/+$/, "") + "/config.json";
  } catch (e) {
    throw new Error(`${file}: cannot read config: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    throw new Error(`${file}: cannot read config: ${(e as Error).message}`);
  }
  return parseHfConfig(json, file);
}
