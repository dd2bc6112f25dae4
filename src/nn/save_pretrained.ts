/**
 * The way back out: a model and its parameters written as a Hugging Face folder
 * (`config.json` in the family's own schema, `model.safetensors`, `tokenizer.json` with
 * `tokenizer_config.json`, `generation_config.json`), so a model trained here loads in
 * transformers, and in `loadPretrained`, with the same logits.
 *
 * `config.json` comes from `CONFIG_JSON`, one writer per architecture: each maps the
 * model's normalised `HfModelConfig` to the fields transformers 5.18 writes for that class,
 * with the config's token ids; `savePretrained` then sets the stored dtype and, given a
 * tokenizer, its token ids.
 * @module
 */
import { ValueError } from "../autograd/mod.ts";
import {
  type BpeTokenizer,
  saveTokenizer,
  type Tokenizer,
  tokenizerJson,
} from "../tokenizers/mod.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import type { HfModelConfig } from "./hf_config.ts";
import type { LanguageModel } from "./language_model.ts";
import { flattenParams, type ParamTree } from "./params.ts";
import { saveSafetensors } from "./safetensors.ts";

/** The transformers release whose `config.json` schema the writers follow. */
const TRANSFORMERS_VERSION = "5.18.0";

/** A token id field: the id, or null as transformers writes an absent one. */
const tokenId = (id: number | number[] | undefined) => id ?? null;

/** RoPE as transformers 5 writes it, plus the flat `rope_theta` that 4.x and other tools read. */
const rope = (c: HfModelConfig) => ({
  rope_parameters: { rope_theta: c.ropeTheta, rope_type: "default" },
  rope_theta: c.ropeTheta,
});

/**
 * `config.json` of a `LlamaForCausalLM` (Llama 2/3, SmolLM, TinyLlama).
 *
 * @example
 * ```ts
 * import { llama, llamaConfigJson } from "@lossforge/core";
 * const model = llama({ vocab: 16, dim: 8, layers: 1, heads: 2, hidden: 16 });
 * console.log(llamaConfigJson(model.config!).num_key_value_heads); // 2
 * ```
 */
export function llamaConfigJson(c: HfModelConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: tokenId(c.bosTokenId),
    dtype: "float32",
    eos_token_id: tokenId(c.eosTokenId),
    head_dim: c.headDim,
    hidden_act: c.activation,
    hidden_size: c.dim,
    initializer_range: 0.02,
    intermediate_size: c.hidden,
    max_position_embeddings: c.context,
    mlp_bias: false,
    model_type: "llama",
    num_attention_heads: c.heads,
    num_hidden_layers: c.layers,
    num_key_value_heads: c.kvHeads,
    pad_token_id: null,
    pretraining_tp: 1,
    rms_norm_eps: c.normEps,
    ...rope(c),
    tie_word_embeddings: c.tieEmbeddings,
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: c.vocab,
  };
}

/**
 * `config.json` of a `Qwen2ForCausalLM` (biases on q, k and v; no sliding window).
 *
 * @example
 * ```ts
 * import { llama, qwen2ConfigJson } from "@lossforge/core";
 * const model = llama({ vocab: 16, dim: 8, layers: 2, heads: 2, hidden: 16, qkvBias: true });
 * console.log(qwen2ConfigJson(model.config!).layer_types); // ["full_attention", "full_attention"]
 * ```
 */
export function qwen2ConfigJson(c: HfModelConfig): Record<string, unknown> {
  return {
    architectures: ["Qwen2ForCausalLM"],
    attention_dropout: 0.0,
    bos_token_id: tokenId(c.bosTokenId),
    dtype: "float32",
    eos_token_id: tokenId(c.eosTokenId),
    // Qwen2 derives the head width from hidden_size unless told otherwise.
    ...(c.headDim === c.dim / c.heads ? {} : { head_dim: c.headDim }),
    hidden_act: c.activation,
    hidden_size: c.dim,
    initializer_range: 0.02,
    intermediate_size: c.hidden,
    layer_types: Array.from({ length: c.layers }, () => "full_attention"),
    max_position_embeddings: c.context,
    max_window_layers: c.layers,
    model_type: "qwen2",
    num_attention_heads: c.heads,
    num_hidden_layers: c.layers,
    num_key_value_heads: c.kvHeads,
    pad_token_id: null,
    rms_norm_eps: c.normEps,
    ...rope(c),
    sliding_window: null,
    tie_word_embeddings: c.tieEmbeddings,
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    use_sliding_window: false,
    vocab_size: c.vocab,
  };
}

/**
 * `config.json` of a `GPT2LMHeadModel` (dropouts and summary fields at transformers'
 * defaults; `n_inner` null when it is 4·n_embd).
 *
 * @example
 * ```ts
 * import { gpt, gpt2ConfigJson } from "@lossforge/core";
 * const model = gpt({ vocab: 16, context: 8, layers: 1, dim: 8, heads: 2 });
 * console.log(gpt2ConfigJson(model.config!).n_positions); // 8
 * ```
 */
export function gpt2ConfigJson(c: HfModelConfig): Record<string, unknown> {
  return {
    activation_function: c.activation,
    add_cross_attention: false,
    architectures: ["GPT2LMHeadModel"],
    attn_pdrop: 0.1,
    bos_token_id: tokenId(c.bosTokenId),
    dtype: "float32",
    embd_pdrop: 0.1,
    eos_token_id: tokenId(c.eosTokenId),
    initializer_range: 0.02,
    layer_norm_epsilon: c.normEps,
    model_type: "gpt2",
    n_embd: c.dim,
    n_head: c.heads,
    n_inner: c.hidden === 4 * c.dim ? null : c.hidden,
    n_layer: c.layers,
    n_positions: c.context,
    pad_token_id: null,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: "cls_index",
    summary_use_proj: true,
    tie_word_embeddings: true,
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: c.vocab,
  };
}

/**
 * The `config.json` writer of each architecture `savePretrained` can write.
 *
 * @example
 * ```ts
 * import { CONFIG_JSON } from "@lossforge/core";
 * console.log(Object.keys(CONFIG_JSON));
 * // ["LlamaForCausalLM", "Qwen2ForCausalLM", "GPT2LMHeadModel"]
 * ```
 */
export const CONFIG_JSON: Readonly<
  Record<string, (config: HfModelConfig) => Record<string, unknown>>
> = Object.freeze({
  LlamaForCausalLM: llamaConfigJson,
  Qwen2ForCausalLM: qwen2ConfigJson,
  GPT2LMHeadModel: gpt2ConfigJson,
});

/**
 * Options of `savePretrained`.
 *
 * @example
 * ```ts
 * import { byteTokenizer, type SavePretrainedOptions } from "@lossforge/core";
 * const opts: SavePretrainedOptions = { tokenizer: byteTokenizer(), dtype: "bfloat16" };
 * ```
 */
export interface SavePretrainedOptions {
  /**
   * The tokenizer to write (`tokenizer.json`, `tokenizer_config.json`): a BPE tokenizer
   * read from a `tokenizer.json`, or the byte tokenizer. Its BOS, EOS and PAD ids also go
   * into `config.json` and `generation_config.json`. Without it no tokenizer is written
   * (and `loadPretrained` of the folder needs one put there).
   */
  tokenizer?: Tokenizer | BpeTokenizer;
  /** Stored dtype of the weights (default float32; bfloat16 halves the file). */
  dtype?: "float32" | "bfloat16";
}

/** Throws unless `params` holds exactly the tensors of `model`, with their shapes. */
function checkParams(model: LanguageModel, params: ParamTree, dir: string): void {
  const flat = flattenParams(params);
  const missing: string[] = [], wrong: string[] = [];
  for (const [name, shape] of Object.entries(model.shapes)) {
    const t = flat[name];
    if (!t) missing.push(name);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      wrong.push(`${name} is [${t.shape}], expected [${shape}]`);
    }
  }
  const unexpected = Object.keys(flat).filter((n) => !(n in model.shapes));
  const problems = [
    missing.length ? `missing ${missing.slice(0, 10).join(", ")}` : "",
    wrong.length ? `wrong shapes: ${wrong.slice(0, 10).join("; ")}` : "",
    unexpected.length ? `not parameters of the model: ${unexpected.slice(0, 10).join(", ")}` : "",
  ].filter((s) => s);
  if (problems.length) {
    throw new ValueError(
      `savePretrained ${dir}: params do not fit the model: ${problems.join("; ")}`,
    );
  }
}

/**
 * Writes `model` with `params` as a Hugging Face folder `dir` (created if needed):
 * `model.safetensors` (float32 or bfloat16; a tied head is not stored, as transformers does),
 * `config.json` in the architecture's own schema (see `CONFIG_JSON`), `generation_config.json`,
 * and with `opts.tokenizer` its `tokenizer.json` and `tokenizer_config.json`. Every file is
 * written atomically, `config.json` last. The model must carry its `config` (`gpt`, `llama`
 * and `loadPretrained` models do); for a LoRA model, save `mergeLora`'s weights with its base.
 *
 * @example
 * ```ts
 * import { byteTokenizer, llama, loadPretrained, rng, savePretrained } from "@lossforge/core";
 * const model = llama({ vocab: 259, dim: 16, layers: 1, heads: 2, hidden: 32, tieEmbeddings: true });
 * await savePretrained("out/tiny", model, model.init(rng(0)), { tokenizer: byteTokenizer() });
 * const back = await loadPretrained("out/tiny"); // transformers' from_pretrained reads it too
 * ```
 */
export async function savePretrained(
  dir: string | URL,
  model: LanguageModel,
  params: ParamTree,
  opts: SavePretrainedOptions = {},
): Promise<void> {
  const base = (dir instanceof URL ? decodeURIComponent(dir.pathname) : dir).replace(/\/+$/, "");
  if ("targets" in model && "base" in model) {
    throw new ValueError(
      `savePretrained ${base}: model is a LoRA model; save its base with the merged weights: ` +
        "savePretrained(dir, lm.base, mergeLora(lm, params))",
    );
  }
  const config = model.config;
  if (!config) {
    throw new ValueError(
      `savePretrained ${base}: the ${model.kind} model carries no Hugging Face config ` +
        "(model.config); build it with gpt, llama or loadPretrained",
    );
  }
  const writer = CONFIG_JSON[config.architecture];
  if (!writer) {
    throw new ValueError(
      `savePretrained ${base}: no config.json writer for ${config.architecture} (writers: ${
        Object.keys(CONFIG_JSON).join(", ")
      })`,
    );
  }
  const dtype = opts.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "bfloat16") {
    throw new ValueError(`savePretrained: dtype must be "float32" or "bfloat16", got "${dtype}"`);
  }
  checkParams(model, params, base);
  const tok = opts.tokenizer;
  if (tok) tokenizerJson(tok); // a tokenizer it cannot write fails before any file is written
  const ids = tok
    ? { bosTokenId: tok.bos, eosTokenId: tok.eos }
    : { bosTokenId: config.bosTokenId, eosTokenId: config.eosTokenId };
  const json: Record<string, unknown> = {
    ...writer({ ...config, ...ids }),
    dtype,
    ...(tok ? { pad_token_id: tok.pad } : {}),
  };
  const generation = {
    _from_model_config: true,
    bos_token_id: tokenId(ids.bosTokenId),
    eos_token_id: tokenId(ids.eosTokenId),
    ...(tok ? { pad_token_id: tok.pad } : {}),
    output_attentions: false,
    output_hidden_states: false,
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
  };

  await Deno.mkdir(base, { recursive: true });
  await saveSafetensors(`${base}/model.safetensors`, params, { format: "pt" }, {
    dtype: dtype === "bfloat16" ? "BF16" : "F32",
  });
  if (tok) await saveTokenizer(base, tok);
  await writeFileAtomic(`${base}/generation_config.json`, pretty(sortKeys(generation)));
  await writeFileAtomic(`${base}/config.json`, pretty(sortKeys(json)));
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function pretty(o: unknown): string {
  return JSON.stringify(o, null, 2) + "\n";
}
