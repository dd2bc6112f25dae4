/**
 * Data for LM fine-tuning: the paper's four tasks (GSM8K, MathQA, OpenBookQA, HellaSwag)
 * behind one `Task` interface, synthetic GSM8K, checksummed downloads, batching and the
 * tasks' metrics. Pure TypeScript, no tensors.
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
export { validationIndices } from "./split.ts";
export { downloadFiles, progressBar, verifySha256Prefix } from "./download.ts";
export type {
  DownloadFile,
  DownloadFilesOptions,
  DownloadOptions,
  DownloadProgress,
  ProgressBarOptions,
} from "./download.ts";
export { tokenizeTaskExample } from "./task.ts";
export type {
  AnswerKind,
  DownloadTaskOptions,
  Task,
  TaskData,
  TaskExample,
  TaskFileKey,
  TaskFormat,
  TaskFormatted,
  TaskLoadOptions,
  TaskName,
  TaskSplit,
} from "./task.ts";
export {
  downloadTask,
  loadTask,
  TASK_NAMES,
  taskByName,
  taskCacheDir,
  taskMetrics,
  TASKS,
} from "./tasks.ts";
export {
  checkGsm8kRecord,
  downloadGsm8k,
  formatGsm8k,
  gsm8k,
  GSM8K_FILES,
  GSM8K_SHA256_PREFIXES,
  GSM8K_URLS,
  gsm8kTask,
  parseGsm8kAnswer,
  readGsm8kJsonl,
} from "./gsm8k.ts";
export type {
  Gsm8kAnswerParts,
  Gsm8kExample,
  Gsm8kFile,
  Gsm8kOptions,
  Gsm8kRecord,
  Gsm8kSplit,
  Gsm8kTarget,
} from "./gsm8k.ts";
export {
  checkMathQaRecord,
  formatMathQa,
  mathQaAnswer,
  mathQaNumber,
  mathQaOptions,
  mathQaSteps,
  mathQaTask,
  pythonFloat,
} from "./mathqa.ts";
export type { MathQaRecord } from "./mathqa.ts";
export { checkOpenBookQaRecord, formatOpenBookQa, openBookQaTask } from "./openbookqa.ts";
export type { OpenBookQaRecord } from "./openbookqa.ts";
export { checkHellaSwagRecord, formatHellaSwag, hellaSwagTask } from "./hellaswag.ts";
export type { HellaSwagRecord } from "./hellaswag.ts";
export { gsm8kSynthetic, SYNTHETIC_TEMPLATES, syntheticSplitOf } from "./synthetic.ts";
export type { SyntheticDifficulty, SyntheticExample, SyntheticOptions } from "./synthetic.ts";
export {
  aggregateMetrics,
  exactMatch,
  extractAnswer,
  extractFormulas,
  formulaList,
  formulaMetrics,
  mathMetrics,
  parseNumber,
  stepMetrics,
} from "./metrics.ts";
export type {
  AggregateMetrics,
  AnswerMatchOptions,
  FormulaMetrics,
  MathMetrics,
  StepMetrics,
} from "./metrics.ts";
export { parseFormula } from "./formula.ts";
export type { ParsedFormula } from "./formula.ts";
export {
  choiceMetrics,
  extractLetter,
  letterMatch,
  rouge1,
  rougeTokens,
} from "./choice_metrics.ts";
export type { ChoiceMetrics, Rouge1 } from "./choice_metrics.ts";
export { encodeExample, IGNORE_INDEX, makeBatch, promptBatch } from "./batch.ts";
export type {
  Batch,
  BatchOptions,
  EncodedExample,
  EncodeOptions,
  PadSide,
  PromptBatch,
} from "./batch.ts";
