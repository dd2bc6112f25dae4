/**
 * The pipeline DSL and training runner: declare a run as plain data (`pipeline`), check
 * it (every problem at once), write it as JSON and back, train it with progress, logs,
 * checkpoints and bit-exact resume, evaluate it, sweep variants, and report the results
 * as Markdown, CSV and SVG.
 *
 * @example
 * ```ts
 * import { pipeline, train, withLoss } from "@lossforge/core/dsl";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 128, layers: 2, dim: 64, heads: 4 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 3e-3, weightDecay: 0.01 } },
 *   data: { kind: "gsm8kSynthetic", options: { seed: 42, maxNumber: 20 } },
 *   eval: { kind: "exactMatch", options: { limit: 20, maxNewTokens: 24 } },
 *   steps: 100,
 * });
 * const result = await train(withLoss(base, "focal"), { out: "runs/focal" });
 * console.log(result.loss, result.eval?.exactMatch); // the last logged loss, and exact match
 * // runs/focal/ holds events.jsonl (the logged steps) and pipeline.json (the run as JSON).
 * ```
 * @module
 */
import "../backends.ts";

export type {
  ApplyContext,
  DataSource,
  Described,
  EvalRunOptions,
  Evaluator,
  Example,
  Json,
  LoadedData,
  LossLike,
  ModelLike,
  OptimizerLike,
  PartSpec,
  ProblemResults,
  ScheduleLike,
} from "./spec/types.ts";
import "./spec/builtins.ts";
export { BUILTIN_NAMES } from "./spec/builtins.ts";
export {
  buildPart,
  checkPartSpec,
  describe,
  type Factory,
  isRegistered,
  type JsonOptions,
  type OptionProblem,
  type PartKind,
  type PartOf,
  register,
  registerAlias,
  registerDataset,
  registered,
  registerEvaluator,
  registerLoss,
  registerModel,
  registerOptimizer,
  type RegisterOptions,
  registerSchedule,
  type Resolver,
  specOf,
  toPartSpec,
} from "./spec/registry.ts";
export {
  CheckpointError,
  type NonFiniteDetails,
  NonFiniteLossError,
  PipelineError,
  type Problem,
  RunFolderError,
} from "./spec/errors.ts";
export {
  type CheckpointSpec,
  type NonFinitePolicy,
  type Pipeline,
  pipeline,
  type PipelineSpec,
  withLoss,
  withModel,
} from "./spec/pipeline.ts";
export { pipelineFromJSON, type PipelineJSON, toJSON } from "./spec/json.ts";
export {
  gsm8kData,
  type Gsm8kDataOptions,
  gsm8kSyntheticData,
  type Gsm8kSyntheticDataOptions,
  inlineData,
  type InlineDataOptions,
  syntheticData,
  type SyntheticDataOptions,
} from "./run/data_sources.ts";
export { taskData, type TaskDataOptions } from "./run/task_data.ts";
export { type TaskDecode, taskEval, type TaskEvalOptions } from "./run/task_eval.ts";
export { BatchStream, type BatchStreamOptions, type DataPosition } from "./run/batches.ts";
export {
  checkpointPath,
  checkpointStep,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  type TrainingState,
  verifyCheckpoint,
} from "./run/checkpoint.ts";
export { signalExitCode, type StopSignal } from "./run/stop_signals.ts";
export { type TrainEvent } from "./run/events.ts";
export { greedyGenerate, type GreedyOptions } from "./run/greedy.ts";
export {
  evaluate,
  type EvaluateOptions,
  exactMatchEval,
  type ExactMatchOptions,
} from "./run/evaluate.ts";
export {
  resume,
  train,
  type TrainOptions,
  type TrainResult,
  type TuneMatmulRun,
} from "./run/train.ts";
export {
  labelOf,
  sweep,
  type SweepAxes,
  type SweepAxis,
  type SweepOptions,
  type SweepReportOptions,
  type SweepRow,
  type SweepTable,
} from "./report/sweep.ts";
export {
  type KubernetesPlanOptions,
  type PlannedVariant,
  type PlanOptions,
  readPlan,
  type SweepPlan,
} from "./report/plan.ts";
export {
  planFromConfig,
  runPlan,
  type RunPlanOptions,
  type RunPlanResult,
  type SweepConfig,
} from "./report/plan_run.ts";
export { type MergeOptions, type MergeResult, mergeResults } from "./report/merge.ts";
export {
  type CompareOptions,
  compareRows,
  type Comparison,
  type GroupSummary,
  type IntervalMethod,
  type SeedTest,
  type VersusBaseline,
} from "./report/compare.ts";
export {
  comparisonMarkdown,
  metricColumns,
  report,
  type ReportLayout,
  toCsv,
  toJson,
  toMarkdown,
} from "./report/report.ts";
export {
  type Curve,
  curvesSvg,
  intervalsSvg,
  plotCurves,
  plotIntervals,
  type PlotOptions,
  seedCurves,
} from "./report/plot.ts";
export {
  type BootstrapOptions,
  holm,
  type Interval,
  mcnemarExact,
  normalQuantile,
  pairedBootstrap,
  wilsonInterval,
} from "./report/stats.ts";
export {
  createProgress,
  formatDuration,
  type Progress,
  type ProgressOptions,
} from "./report/progress.ts";
export { createLiveDisplay, type LiveDisplay, type LiveDisplayOptions } from "./report/live.ts";
