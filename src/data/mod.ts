/**
 * Data for LM fine-tuning: GSM8K (real and synthetic), batching and metrics.
 * Pure TypeScript, no tensors.
 *
 * @example
 * ```ts
 * import { exactMatch, gsm8kSynthetic, makeBatch } from "@lossforge/core/data";
 * import { byteTokenizer } from "@lossforge/core/tokenizers";
 * const data = gsm8kSynthetic({ count: 4, difficulty: 1 });
 * const batch = makeBatch(byteTokenizer(), data, { maxLength: 128 });
 * console.log(batch.batch, batch.length); // 4 128
 * console.log(exactMatch(`#### ${data[0].final}`, data[0].answer)); // true
 * ```
 *
 * @module
 */
import "../backends.ts";

export { DataError } from "./errors.ts";
export { deriveSeed, randomInt, seededRandom, shuffleInPlace } from "./random.ts";
export {
  downloadGsm8k,
  formatGsm8k,
  gsm8k,
  GSM8K_SHA256_PREFIXES,
  GSM8K_URLS,
  parseGsm8kAnswer,
  readGsm8kJsonl,
  validationIndices,
  verifySha256Prefix,
} from "./gsm8k.ts";
export type {
  DownloadOptions,
  DownloadProgress,
  Gsm8kAnswerParts,
  Gsm8kExample,
  Gsm8kFile,
  Gsm8kOptions,
  Gsm8kRecord,
  Gsm8kSplit,
  Gsm8kTarget,
} from "./gsm8k.ts";
export { gsm8kSynthetic, SYNTHETIC_TEMPLATES, syntheticSplitOf } from "./synthetic.ts";
export type { SyntheticDifficulty, SyntheticExample, SyntheticOptions } from "./synthetic.ts";
export {
  aggregateMetrics,
  exactMatch,
  extractAnswer,
  extractFormulas,
  parseNumber,
  stepMetrics,
} from "./metrics.ts";
export type { AggregateMetrics, StepMetrics } from "./metrics.ts";
export { encodeExample, IGNORE_INDEX, makeBatch, promptBatch } from "./batch.ts";
export type {
  Batch,
  BatchOptions,
  EncodedExample,
  EncodeOptions,
  PadSide,
  PromptBatch,
} from "./batch.ts";
