/**
 * Layers and models as pure functions over parameter trees named as in Hugging Face:
 * linear, embedding, norms, dropout, MLPs, rotary grouped-query attention, GPT-2,
 * Llama-family, GPT-NeoX, StableLM and Falcon models, KV-cached generation, LoRA,
 * safetensors files, pretrained folders (config, weights and byte-level BPE tokenizer).
 *
 * @example
 * ```ts
 * import { rng } from "@lossforge/core/autograd";
 * import { generate, llama } from "@lossforge/core/nn";
 * const model = llama({ vocab: 64, dim: 32, layers: 2, heads: 4, kvHeads: 2, hidden: 64 });
 * const params = model.init(rng(0));
 * console.log(await generate(model, params, [[1, 2, 3]], { maxNewTokens: 4 })); // 4 new ids
 * ```
 * @module
 */
import "../backends.ts";
export { countParams, flattenParams, type ParamTree, unflattenParams } from "./params.ts";
export type { ForwardContext, LinearHook, Module } from "./module.ts";
export {
  linear,
  linearForward,
  type LinearOptions,
  type LinearParams,
  project,
  type WeightLayout,
} from "./linear.ts";
export { embeddingLayer, type EmbeddingParams } from "./embedding.ts";
export {
  layerNorm,
  layerNormForward,
  type LayerNormParams,
  perHeadLayerNorm,
  perHeadLayerNormForward,
  type PerHeadLayerNormParams,
  rmsNorm,
  rmsNormForward,
  type RmsNormParams,
} from "./norm.ts";
export { applyDropout, dropout } from "./dropout.ts";
export { activationFn, geluExact } from "./activation.ts";
export {
  denseMlp,
  type DenseMlpParams,
  gatedMlp,
  type GatedMlpParams,
  mlp,
  type MlpParams,
} from "./mlp.ts";
export { applyRope, type RopeTables, ropeTables, rotaryDims, rotateHalf } from "./rope.ts";
export {
  attend,
  type AttentionContext,
  type AttentionOptions,
  type AttentionOutput,
  type AttentionParams,
  causalSelfAttention,
  fusedQkvAttention,
  type FusedQkvAttentionOptions,
  type FusedQkvAttentionParams,
  gpt2Attention,
  type Gpt2AttentionParams,
  type LayerCache,
  splitHeads,
} from "./attention.ts";
export type { KVCache, LanguageModel, LinearInfo, LmContext } from "./language_model.ts";
export {
  falconBlock,
  type FalconLayerParams,
  gpt2Block,
  type GptLayerParams,
  gptNeoXBlock,
  type GptNeoXLayerParams,
  llamaBlock,
  type LlamaLayerParams,
  stableLmBlock,
  type StableLmLayerParams,
} from "./block.ts";
export type { DecoderConfig } from "./decoder_lm.ts";
export { llama, type LlamaConfig, type LlamaParams } from "./llama.ts";
export { gpt, type GptConfig, type GptParams } from "./gpt.ts";
export { gptNeoX, type GptNeoXConfig, type GptNeoXParams } from "./gpt_neox.ts";
export { stableLm, type StableLmConfig, type StableLmParams } from "./stablelm.ts";
export { falcon, type FalconConfig, type FalconParams } from "./falcon.ts";
export { generate, type GenerateOptions } from "./generate.ts";
export {
  type LoadedLora,
  loadLora,
  lora,
  LORA_PRESETS,
  type LoraModel,
  type LoraOptions,
  type LoraParams,
  type LoraPreset,
  mergeLora,
  peftAdapterConfig,
  saveLora,
  type SaveLoraOptions,
} from "./lora.ts";
export {
  type LoadedSafetensors,
  loadSafetensors,
  type LoadSafetensorsOptions,
  saveSafetensors,
  type SaveSafetensorsOptions,
} from "./safetensors.ts";
export {
  loadPretrained,
  type LoadPretrainedOptions,
  modelFromConfig,
  type Pretrained,
} from "./pretrained.ts";
export { savePretrained, type SavePretrainedOptions } from "./save_pretrained.ts";

// The safetensors codec and the Hugging Face config parser.
export {
  bf16ToF32,
  type DecodedSafetensors,
  type DecodedTensor,
  decodeSafetensors,
  encodeSafetensors,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  loadShardedIndex,
  readSafetensorsFile,
  readSafetensorsHeader,
  type SafetensorsData,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type SafetensorsHeaderEntry,
  type SafetensorsReadOptions,
  type ShardedIndex,
  writeSafetensorsFile,
} from "./safetensors_codec.ts";
export {
  type HfArchitecture,
  type HfModelConfig,
  loadHfConfig,
  parseHfConfig,
  SUPPORTED_ARCHITECTURES,
} from "./hf_config.ts";
export {
  CONFIG_JSON,
  falconConfigJson,
  gpt2ConfigJson,
  gptNeoXConfigJson,
  hfConfigJson,
  llamaConfigJson,
  qwen2ConfigJson,
  stableLmConfigJson,
} from "./hf_config_json.ts";
