/**
 * Parse Hugging Face `config.json` files (Llama, Qwen2, SmolLM, GPT-2, GPT-NeoX, StableLM,
 * Falcon) into one normalized shape.
 *
 * @module
 */

import { ValueError } from "../autograd/mod.ts";
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
export type HfArchitecture =
  | "LlamaForCausalLM"
  | "Qwen2ForCausalLM"
  | "GPT2LMHeadModel"
  | "GPTNeoXForCausalLM"
  | "StableLmForCausalLM"
  | "FalconForCausalLM";

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
  "GPTNeoXForCausalLM",
  "StableLmForCausalLM",
  "FalconForCausalLM",
];

/** The architecture of a config without `architectures`, by its `model_type`. */
const BY_MODEL_TYPE: Readonly<Record<string, HfArchitecture>> = {
  llama: "LlamaForCausalLM",
  qwen2: "Qwen2ForCausalLM",
  gpt2: "GPT2LMHeadModel",
  gpt_neox: "GPTNeoXForCausalLM",
  stablelm: "StableLmForCausalLM",
  falcon: "FalconForCausalLM",
};

/**
 * A normalized model configuration. The fields after `activation` are those of the families
 * that have them (absent elsewhere).
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
  /** `model_type` (e.g. "llama", "qwen2", "gpt2", "gpt_neox", "stablelm", "falcon"). */
  modelType: string;
  /** Vocabulary size (`vocab_size`). */
  vocab: number;
  /** Model width (`hidden_size` / `n_embd`). */
  dim: number;
  /** Number of transformer blocks (`num_hidden_layers` / `n_layer`). */
  layers: number;
  /** Attention heads (`num_attention_heads` / `n_head`). */
  heads: number;
  /**
   * Key/value heads (`num_key_value_heads`, default `heads`; GPT-2 and GPT-NeoX: `heads`;
   * Falcon: 1 with `multi_query`, `num_kv_heads` with `new_decoder_architecture`).
   */
  kvHeads: number;
  /** Per-head dimension (`head_dim`, default `dim / heads`). */
  headDim: number;
  /**
   * MLP width (`intermediate_size` / `n_inner`, default `4 * n_embd`; Falcon
   * `ffn_hidden_size`, default `4 * hidden_size`).
   */
  hidden: number;
  /** Maximum context (`max_position_embeddings` / `n_positions`). */
  context: number;
  /**
   * RoPE base (`rope_theta` or `rope_parameters.rope_theta`, GPT-NeoX also
   * `rotary_emb_base`; default 10000; GPT-2: 0).
   */
  ropeTheta: number;
  /** Norm epsilon (`rms_norm_eps` / `layer_norm_epsilon` / `layer_norm_eps`). */
  normEps: number;
  /** Whether `lm_head` shares the embedding matrix. */
  tieEmbeddings: boolean;
  /**
   * Whether q/k/v projections have a bias (Qwen2 and GPT-2: always; StableLM
   * `use_qkv_bias`). GPT-NeoX's `attention_bias` and Falcon's `bias`, which set it, bias the
   * attention output too (and Falcon's its MLP; GPT-NeoX's MLP always has biases).
   */
  qkvBias: boolean;
  /** BOS token id, when given. */
  bosTokenId?: number;
  /** EOS token id(s), when given. */
  eosTokenId?: number | number[];
  /** MLP activation (`hidden_act` / `activation_function` / Falcon `activation`). */
  activation: string;
  /**
   * The rotated fraction of each head (GPT-NeoX `rotary_pct` or
   * `rope_parameters.partial_rotary_factor`, default 0.25; StableLM `partial_rotary_factor`,
   * default 0.25; Falcon 1).
   */
  rotaryFraction?: number;
  /**
   * Attention and MLP both read the block's input and add to it (GPT-NeoX and StableLM
   * `use_parallel_residual`; Falcon `parallel_attn`, always with `new_decoder_architecture`).
   */
  parallelResidual?: boolean;
  /**
   * Falcon: LayerNorms of a parallel block, 1 (`input_layernorm`, shared) or 2 (`ln_attn`
   * and `ln_mlp`: `new_decoder_architecture` with `num_ln_in_parallel_attn` 2 or unset).
   */
  parallelNorms?: 1 | 2;
  /** StableLM `qk_layernorm`: a LayerNorm per query head and per key head. */
  qkNorm?: boolean;
}

/**
 * Normalize a parsed Hugging Face `config.json`.
 *
 * The architecture comes from `architectures[0]` (or, failing that, `model_type`).
 * Unsupported architectures and missing/invalid required fields throw errors naming
 * `source` and the field; settings these families have that lossforge does not implement
 * (Falcon's `alibi`) throw a ValueError naming the field.
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
    arch = typeof json.model_type === "string" && Object.hasOwn(BY_MODEL_TYPE, json.model_type)
      ? BY_MODEL_TYPE[json.model_type]
      : undefined;
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
  const f = fieldReader(json, source, architecture);
  const cfg = READERS[architecture](f, architecture);
  if (!Number.isInteger(cfg.headDim)) {
    throw new Error(`${source}: hidden size ${cfg.dim} is not divisible by ${cfg.heads} heads`);
  }
  const bos = f.tokenIds("bos_token_id");
  if (bos !== undefined) {
    if (Array.isArray(bos)) {
      throw new Error(`${source}: field "bos_token_id" must be one id, got ${show(bos)}`);
    }
    cfg.bosTokenId = bos;
  }
  const eos = f.tokenIds("eos_token_id");
  if (eos !== undefined) cfg.eosTokenId = eos;
  return cfg;
}

/** Typed access to a config's fields, with errors naming the file and the field. */
interface FieldReader {
  source: string;
  has(field: string): boolean;
  int(field: string, fallback?: number): number;
  /** A number of blocks (bounded, since each block is declared one by one). */
  layers(field: string): number;
  num(field: string, fallback?: number): number;
  bool(field: string, fallback: boolean): boolean;
  str(field: string, fallback: string): string;
  tokenIds(field: string): number | number[] | undefined;
  /** `rope_parameters.<key>` when given, else the top-level `field` (when given), else fallback. */
  rope(key: string, fields: readonly string[], fallback: number): number;
}

/** The most blocks a config may declare. */
const MAX_LAYERS = 10_000;

function fieldReader(
  json: Record<string, unknown>,
  source: string,
  architecture: HfArchitecture,
): FieldReader {
  const absent = (v: unknown) => v === undefined || v === null;
  // A field's value: its fallback when absent (an error when it has none), else checked by
  // `ok` and described as `what` in the error.
  const read = <T>(field: string, what: string, ok: (v: unknown) => v is T, fallback?: T): T => {
    const v = json[field];
    if (absent(v)) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${source}: missing required field "${field}" for ${architecture}`);
    }
    if (!ok(v)) throw new Error(`${source}: field "${field}" must be ${what}, got ${show(v)}`);
    return v as T;
  };
  // Sizes index Int32 shapes; blocks are counted out one by one when the model is declared, so
  // their number is bounded too (far above any published model).
  const isInt = (v: unknown): v is number =>
    typeof v === "number" && Number.isSafeInteger(v) && v > 0 && v <= 2 ** 31 - 1;
  const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;
  const num = (field: string, fallback?: number) =>
    read(field, "a positive number", isNum, fallback);
  return {
    source,
    has: (field) => !absent(json[field]),
    int: (field, fallback) => read(field, "a positive integer below 2^31", isInt, fallback),
    layers: (field) =>
      read(
        field,
        `a positive integer up to ${MAX_LAYERS}`,
        (v): v is number => isInt(v) && v <= MAX_LAYERS,
      ),
    num,
    bool: (field, fallback) =>
      read(field, "a boolean", (v): v is boolean => typeof v === "boolean", fallback),
    str: (field, fallback) =>
      read(field, "a string", (v): v is string => typeof v === "string", fallback),
    tokenIds: (field) => {
      const v = json[field];
      if (absent(v)) return undefined;
      const ok = (x: unknown): x is number =>
        typeof x === "number" && Number.isInteger(x) && x >= 0;
      if (ok(v)) return v;
      if (Array.isArray(v) && v.every(ok)) return v.length === 1 ? v[0] : [...v];
      throw new Error(
        `${source}: field "${field}" must be a token id or a list of ids, got ${show(v)}`,
      );
    },
    rope: (key, fields, fallback) => {
      const nested = json.rope_parameters;
      if (isObject(nested) && !absent(nested[key])) {
        const v = nested[key];
        if (!isNum(v)) {
          throw new Error(
            `${source}: field "rope_parameters.${key}" must be a positive number, got ${show(v)}`,
          );
        }
        return v;
      }
      const given = fields.find((field) => !absent(json[field]));
      return given === undefined ? fallback : num(given);
    },
  };
}

type Reader = (f: FieldReader, architecture: HfArchitecture) => HfModelConfig;

const readGpt2: Reader = (f, architecture) => {
  const dim = f.int("n_embd");
  const heads = f.int("n_head");
  return {
    architecture,
    modelType: f.str("model_type", "gpt2"),
    vocab: f.int("vocab_size"),
    dim,
    layers: f.layers("n_layer"),
    heads,
    kvHeads: heads,
    headDim: dim / heads,
    hidden: f.int("n_inner", 4 * dim),
    context: f.int("n_positions"),
    ropeTheta: 0,
    normEps: f.num("layer_norm_epsilon", 1e-5),
    tieEmbeddings: f.bool("tie_word_embeddings", true),
    qkvBias: true,
    activation: f.str("activation_function", "gelu_new"),
  };
};

const readLlama: Reader = (f, architecture) => {
  const dim = f.int("hidden_size");
  const heads = f.int("num_attention_heads");
  const qwen = architecture === "Qwen2ForCausalLM";
  return {
    architecture,
    modelType: f.str("model_type", qwen ? "qwen2" : "llama"),
    vocab: f.int("vocab_size"),
    dim,
    layers: f.layers("num_hidden_layers"),
    heads,
    kvHeads: kvHeadsOf(f, "num_key_value_heads", heads),
    headDim: f.int("head_dim", dim / heads),
    hidden: f.int("intermediate_size"),
    context: f.int("max_position_embeddings"),
    ropeTheta: f.rope("rope_theta", ["rope_theta"], 10000),
    normEps: f.num("rms_norm_eps", 1e-6),
    tieEmbeddings: f.bool("tie_word_embeddings", false),
    qkvBias: qwen ? true : f.bool("attention_bias", false),
    activation: f.str("hidden_act", "silu"),
  };
};

// transformers' defaults of each family's config class fill absent fields.
const readGptNeoX: Reader = (f, architecture) => {
  const dim = f.int("hidden_size");
  const heads = f.int("num_attention_heads");
  return {
    architecture,
    modelType: f.str("model_type", "gpt_neox"),
    vocab: f.int("vocab_size"),
    dim,
    layers: f.layers("num_hidden_layers"),
    heads,
    kvHeads: heads,
    headDim: dim / heads,
    hidden: f.int("intermediate_size"),
    context: f.int("max_position_embeddings", 2048),
    ropeTheta: f.rope("rope_theta", ["rotary_emb_base"], 10000),
    normEps: f.num("layer_norm_eps", 1e-5),
    tieEmbeddings: f.bool("tie_word_embeddings", false),
    qkvBias: f.bool("attention_bias", true),
    activation: f.str("hidden_act", "gelu"),
    rotaryFraction: fraction(f, f.rope("partial_rotary_factor", ["rotary_pct"], 0.25)),
    parallelResidual: f.bool("use_parallel_residual", true),
  };
};

const readStableLm: Reader = (f, architecture) => {
  const dim = f.int("hidden_size");
  const heads = f.int("num_attention_heads");
  return {
    architecture,
    modelType: f.str("model_type", "stablelm"),
    vocab: f.int("vocab_size"),
    dim,
    layers: f.layers("num_hidden_layers"),
    heads,
    kvHeads: kvHeadsOf(f, "num_key_value_heads", heads),
    headDim: dim / heads,
    hidden: f.int("intermediate_size"),
    context: f.int("max_position_embeddings", 4096),
    ropeTheta: f.rope("rope_theta", ["rope_theta"], 10000),
    normEps: f.num("layer_norm_eps", 1e-5),
    tieEmbeddings: f.bool("tie_word_embeddings", false),
    qkvBias: f.bool("use_qkv_bias", false),
    activation: f.str("hidden_act", "silu"),
    rotaryFraction: fraction(f, f.rope("partial_rotary_factor", ["partial_rotary_factor"], 0.25)),
    parallelResidual: f.bool("use_parallel_residual", false),
    qkNorm: f.bool("qk_layernorm", false),
  };
};

const readFalcon: Reader = (f, architecture) => {
  const where = f.source;
  if (f.bool("alibi", false)) {
    throw new ValueError(
      `${where}: field "alibi" is true: ALiBi attention biases are not supported ` +
        `(only rotary Falcon models, alibi false)`,
    );
  }
  const dim = f.int("hidden_size");
  const heads = f.int("num_attention_heads");
  const newArch = f.bool("new_decoder_architecture", false);
  const parallel = newArch || f.bool("parallel_attn", true);
  const norms = f.has("num_ln_in_parallel_attn") ? f.int("num_ln_in_parallel_attn") : undefined;
  if (newArch && !f.bool("parallel_attn", true)) {
    throw new ValueError(
      `${where}: field "parallel_attn" is false with new_decoder_architecture true, which ` +
        `transformers cannot run either (its new decoder is always parallel)`,
    );
  }
  if (norms !== undefined && norms !== 1 && norms !== 2) {
    throw new ValueError(`${where}: field "num_ln_in_parallel_attn" must be 1 or 2, got ${norms}`);
  }
  if (!newArch && parallel && norms === 2) {
    throw new ValueError(
      `${where}: field "num_ln_in_parallel_attn" is 2 without new_decoder_architecture, which ` +
        `transformers cannot run either (set new_decoder_architecture or use 1)`,
    );
  }
  let kvHeads = heads;
  if (newArch) kvHeads = kvHeadsOf(f, "num_kv_heads", heads);
  else if (f.bool("multi_query", true)) kvHeads = 1;
  else if (f.int("num_kv_heads", heads) !== heads) {
    // The original decoder without multi_query lays out q, k, v for every head.
    throw new ValueError(
      `${where}: field "num_kv_heads" (${f.int("num_kv_heads")}) differs from ` +
        `num_attention_heads (${heads}) with multi_query and new_decoder_architecture false, ` +
        `which transformers cannot run either`,
    );
  }
  return {
    architecture,
    modelType: f.str("model_type", "falcon"),
    vocab: f.int("vocab_size"),
    dim,
    layers: f.layers("num_hidden_layers"),
    heads,
    kvHeads,
    headDim: dim / heads,
    hidden: f.int("ffn_hidden_size", 4 * dim),
    context: f.int("max_position_embeddings", 2048),
    ropeTheta: f.rope("rope_theta", ["rope_theta"], 10000),
    normEps: f.num("layer_norm_epsilon", 1e-5),
    tieEmbeddings: f.bool("tie_word_embeddings", true),
    qkvBias: f.bool("bias", false),
    activation: f.str("activation", "gelu"),
    parallelResidual: parallel,
    parallelNorms: newArch && norms !== 1 ? 2 : 1,
  };
};

/** The key/value heads `field` gives (default `heads`), which must divide `heads`. */
function kvHeadsOf(f: FieldReader, field: string, heads: number): number {
  const kvHeads = f.int(field, heads);
  if (heads % kvHeads !== 0) {
    throw new Error(
      `${f.source}: num_attention_heads (${heads}) is not a multiple of ${field} (${kvHeads})`,
    );
  }
  return kvHeads;
}

/** A rotary fraction must lie in (0, 1]. */
function fraction(f: FieldReader, v: number): number {
  if (v > 1) {
    throw new Error(`${f.source}: the rotary fraction must be at most 1, got ${v}`);
  }
  return v;
}

const READERS: Readonly<Record<HfArchitecture, Reader>> = {
  LlamaForCausalLM: readLlama,
  Qwen2ForCausalLM: readLlama,
  GPT2LMHeadModel: readGpt2,
  GPTNeoXForCausalLM: readGptNeoX,
  StableLmForCausalLM: readStableLm,
  FalconForCausalLM: readFalcon,
};

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
