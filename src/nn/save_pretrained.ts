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
import { CONFIG_JSON, tokenId, TRANSFORMERS_VERSION } from "./hf_config_json.ts";
import type { LanguageModel } from "./language_model.ts";
import { flattenParams, type ParamTree } from "./params.ts";
import { saveSafetensors } from "./safetensors.ts";

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
