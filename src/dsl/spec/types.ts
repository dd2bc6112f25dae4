/**
 * The types a pipeline is made of. Its parts are the library's own interfaces (`Module`,
 * `LossFn`, `Optimizer`, `Schedule`), so `gpt`, `adamw` or `crossEntropy` go in as they are;
 * the data source, the evaluator, and the pipeline itself are the DSL's.
 *
 * @module
 */

import type { Tokenizer } from "../../tokenizers/mod.ts";
import type { LossFn } from "../../losses/mod.ts";
import type { ForwardContext, Module, ParamTree } from "../../nn/mod.ts";
import type { Optimizer, Schedule } from "../../optim/mod.ts";

/**
 * A JSON value: what a part's options may hold so that a pipeline can be written to a file.
 *
 * @example
 * ```ts
 * import { buildPart, type Json } from "@lossforge/core";
 * const betas: Json = [0.9, 0.95];
 * const opt = buildPart("optimizer", { kind: "adamw", options: { lr: 3e-4, betas } });
 * console.log(JSON.stringify(opt.spec?.options)); // {"lr":0.0003,"betas":[0.9,0.95]}
 * ```
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The serialisable description of a part: the registry name it was made from and the
 * options passed to that factory. `pipelineFromJSON` rebuilds the part from it.
 *
 * @example
 * ```ts
 * import { buildPart, type PartSpec } from "@lossforge/core";
 * const spec: PartSpec = { kind: "adamw", options: { lr: 3e-4, weightDecay: 0.01 } };
 * const opt = buildPart("optimizer", spec); // the same as adamw({ lr: 3e-4, weightDecay: 0.01 })
 * console.log(opt.spec === spec, opt.spec?.kind); // false "adamw": a normalised copy
 * ```
 */
export interface PartSpec {
  /** The registry name, e.g. `"gpt"`, `"ce"`, `"adamw"`, `"gsm8kSynthetic"`. */
  kind: string;
  /** The factory's options (JSON only). */
  options?: { [key: string]: Json };
}

/**
 * Anything that may carry its own {@linkcode PartSpec} (set by the registry or by
 * `describe`), which is what makes it JSON-serialisable.
 *
 * @example
 * ```ts
 * import { type Described, describe, specOf, type Tensor } from "@lossforge/core";
 * const sum = (logits: Tensor) => logits.sum();
 * const part: Described = describe(sum, { kind: "sum" });
 * console.log(part.spec?.kind, specOf(sum)); // "sum" undefined: described copies stay apart
 * ```
 */
export interface Described {
  /** How to rebuild this part from a registry. */
  readonly spec?: PartSpec;
}

/**
 * What the runner passes to `model.apply` as its third argument: the library's own
 * {@linkcode ForwardContext} (this name is an alias of it).
 *
 * @example
 * ```ts
 * import { type ApplyContext, gpt, rng, tensor } from "@lossforge/core";
 * const model = gpt({ vocab: 259, context: 32, layers: 1, dim: 16, heads: 2, dropout: 0.1 });
 * // What the runner passes while training: dropout on, drawing from the run's generator.
 * const ctx: ApplyContext = { training: true, rng: rng(0) };
 * const ids = tensor([[1, 2, 3]], { dtype: "int32" });
 * console.log(model.apply(model.init(rng(1)), ids, ctx).shape); // [1, 3, 259]
 * ```
 */
export type ApplyContext = ForwardContext;

/**
 * A pipeline's model: any {@linkcode Module} mapping ids `[B, T]` to logits `[B, T, V]`
 * (`gpt`, `llama`, a LoRA-adapted model, or a few lines in a test). This name is an alias
 * of `Module<P>`.
 *
 * @example
 * ```ts
 * import { embedding, type ModelLike, randn, rng, type Tensor, tensor } from "@lossforge/core";
 * // A bigram model: the logits of the next token are a row of a table.
 * const bigram: ModelLike<{ table: Tensor }> = {
 *   init: () => ({ table: randn([259, 259]) }),
 *   apply: (p, ids) => embedding(p.table, ids),
 * };
 * const ids = tensor([[104, 105]], { dtype: "int32" });
 * console.log(bigram.apply(bigram.init(rng(0)), ids).shape); // [1, 2, 259]
 * ```
 */
export type ModelLike<P extends ParamTree = ParamTree> = Module<P>;

/**
 * A pipeline's loss: the library's {@linkcode LossFn} (this name is an alias of it). The
 * runner calls it with `{ answerMask }` too, which `combine` reads and other losses ignore.
 *
 * @example
 * ```ts
 * import { focal, type LossLike, pipeline } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const loss: LossLike = focal({ gamma: 2 });
 * const run = pipeline({ ...base, loss }); // a live loss, in place of the spec "ce"
 * console.log(run.loss.name); // "focal(gamma=2)"
 * ```
 */
export type LossLike = LossFn;

/**
 * A pipeline's optimizer: the library's {@linkcode Optimizer} (this name is an alias of it).
 * A pipeline's `schedule` reaches it as its learning rate (`LearningRate` takes a schedule).
 *
 * @example
 * ```ts
 * import { adamw, cosine, type OptimizerLike, pipeline } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const optimizer: OptimizerLike = adamw({ lr: cosine({ peak: 3e-3, steps: 4 }) });
 * const run = pipeline({ ...base, optimizer }); // a live optimizer, in place of its spec
 * ```
 */
export type OptimizerLike = Optimizer;

/**
 * A pipeline's learning-rate schedule: the library's {@linkcode Schedule} (this name is an
 * alias of it).
 *
 * @example
 * ```ts
 * import { pipeline, type ScheduleLike } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * const halve: ScheduleLike = (step) => 1e-3 * 0.5 ** Math.floor(step / 100);
 * console.log(halve(250)); // 0.00025
 * const run = pipeline({ ...base, steps: 300, schedule: halve }); // adamw's lr, step by step
 * ```
 */
export type ScheduleLike = Schedule;

/**
 * A training or evaluation example: a prompt and its target text (a `Gsm8kExample` is one).
 *
 * @example
 * ```ts
 * import { type Example, inlineData } from "@lossforge/core";
 * const examples: Example[] = [
 *   { prompt: "Question: 2+2?\nAnswer: ", target: "<<2+2=4>> #### 4" },
 *   { prompt: "Question: 3*3?\nAnswer: ", target: "<<3*3=9>> #### 9" },
 * ];
 * const data = inlineData({ train: examples, maxLength: 48 });
 * console.log((await data.load()).train.length); // 2
 * ```
 */
export interface Example {
  /** The prompt text. */
  prompt: string;
  /** The text to learn to produce after the prompt. */
  target: string;
}

/**
 * The examples a data source yields once loaded.
 *
 * @example
 * ```ts
 * import { gsm8kSyntheticData, type LoadedData } from "@lossforge/core";
 * const loaded: LoadedData = await gsm8kSyntheticData({ count: 10, evalCount: 5 }).load();
 * console.log(loaded.train.length, loaded.eval.length); // 10 5
 * console.log(loaded.eval[0].prompt.startsWith("Question: ")); // true
 * ```
 */
export interface LoadedData {
  /** Training examples (shuffled per epoch by the runner, from the pipeline seed). */
  train: readonly Example[];
  /** Held-out examples for evaluators (validation or test). */
  eval: readonly Example[];
}

/**
 * Where a pipeline's examples come from. Loading is deferred (`load()`) so a pipeline stays
 * plain data until it runs.
 *
 * @example
 * ```ts
 * import { byteTokenizer, type DataSource, pipeline, train } from "@lossforge/core";
 * // Examples read from anywhere, loaded only when the run starts.
 * const square = (i: number) => ({ prompt: `${i}^2=`, target: `${i * i}` });
 * const squares: DataSource = {
 *   name: "squares",
 *   tokenizer: byteTokenizer(),
 *   maxLength: 16,
 *   load: () => {
 *     const all = Array.from({ length: 20 }, (_, i) => square(i));
 *     return Promise.resolve({ train: all.slice(0, 16), eval: all.slice(16) });
 *   },
 * };
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 16, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: squares,
 *   steps: 4,
 * });
 * console.log((await train(run, { progress: false })).steps); // 4
 * ```
 */
export interface DataSource extends Described {
  /** A short label for logs and reports. */
  readonly name: string;
  /** Encodes the examples (and decodes generations). */
  readonly tokenizer: Tokenizer;
  /** T: positions per training row. */
  readonly maxLength: number;
  /** Which side batches are padded on (default `"right"`). */
  readonly padSide?: "left" | "right";
  /** Reads or generates the examples. */
  load(): Promise<LoadedData>;
}

/**
 * Options the runner passes to an evaluator.
 *
 * @example
 * ```ts
 * import type { EvalRunOptions, Evaluator } from "@lossforge/core";
 * // An evaluator reads the held-out examples (and may stop early on the signal).
 * const count: Evaluator = {
 *   name: "count",
 *   run: (_model, _params, _data, o: EvalRunOptions) => {
 *     o.signal?.throwIfAborted();
 *     return Promise.resolve({ count: o.examples.length });
 *   },
 * };
 * ```
 */
export interface EvalRunOptions {
  /** The held-out examples to score. */
  examples: readonly Example[];
  /** Cancels a long evaluation between batches. */
  signal?: AbortSignal;
  /**
   * Takes which problems were answered correctly, so that two runs can be compared problem by
   * problem. An evaluator that can tell calls it once per run; one that cannot ignores it.
   */
  onProblems?: (results: ProblemResults) => void;
}

/**
 * Which held-out problems a model answered correctly. Each id is the problem's index among
 * the held-out examples and a hash of its prompt (`"3:9f0c21aa"`), so results of two runs
 * pair only where they scored the same problems.
 *
 * @example
 * ```ts
 * import { type ProblemResults, wilsonInterval } from "@lossforge/core";
 * const r: ProblemResults = {
 *   metric: "exactMatch",
 *   ids: ["0:1b2c3d4e", "1:5f6a7b8c", "2:9d0e1f2a"],
 *   correct: [true, false, true],
 * };
 * const right = r.correct.filter(Boolean).length;
 * console.log(wilsonInterval(right, r.correct.length)); // { estimate: 0.667, lo: ..., hi: ... }
 * ```
 */
export interface ProblemResults {
  /** The metric these are the per-problem values of (`"exactMatch"`, `"accuracy"`). */
  metric: string;
  /** The problems' ids, in the order they were scored. */
  ids: string[];
  /** Whether each problem was answered correctly, in the order of `ids`. */
  correct: boolean[];
}

/**
 * Scores a model: `run` returns named metrics (e.g. `{ exactMatch: 0.31, iou: 0.4 }`).
 *
 * @example
 * ```ts
 * import { evaluate, type Evaluator, pipeline, train } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * // The share of held-out targets that end with "#### N", as a metric.
 * const formatted: Evaluator = {
 *   name: "formatted",
 *   run: (_m, _p, _d, o) => {
 *     const ok = o.examples.filter((e) => /#### \S+$/.test(e.target)).length;
 *     return Promise.resolve({ formatted: ok / o.examples.length });
 *   },
 * };
 * const run = pipeline({ ...base, eval: formatted });
 * const { params } = await train(run, { progress: false });
 * console.log(await evaluate(run, params)); // { formatted: 1 }
 * ```
 */
export interface Evaluator extends Described {
  /** A label for logs. */
  readonly name: string;
  /** Computes the metrics. */
  run(
    model: Module<ParamTree>,
    params: ParamTree,
    data: DataSource,
    options: EvalRunOptions,
  ): Promise<Record<string, number>>;
}

/**
 * Where and how often checkpoints are written.
 *
 * @example
 * ```ts
 * import { type CheckpointSpec, listCheckpoints, pipeline, train } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * // A checkpoint every 2 steps, the newest one kept.
 * const checkpoint: CheckpointSpec = { dir: "runs/a/checkpoints", every: 2, keep: 1 };
 * await train(pipeline({ ...base, checkpoint }), { progress: false });
 * console.log(await listCheckpoints("runs/a/checkpoints")); // ["runs/a/checkpoints/step-00000004"]
 * ```
 */
export interface CheckpointSpec {
  /** The folder holding `step-NNNNNNNN/` checkpoint folders. */
  dir: string;
  /** Write one every this many steps (and at the end, and on interrupt). */
  every: number;
  /** How many of the newest to keep (default 3). */
  keep?: number;
}

/**
 * What to do when a step's loss is NaN or infinite: `"stop"` throws
 * `NonFiniteLossError` naming the step; `"skip"` leaves params and optimizer state as they
 * were before that step and counts it (`TrainResult.skipped`).
 *
 * @example
 * ```ts
 * import { type NonFinitePolicy, pipeline, train } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * // A step whose loss is NaN leaves the parameters as they were, and the run goes on.
 * const onNonFinite: NonFinitePolicy = "skip";
 * const result = await train(pipeline({ ...base, onNonFinite }), { progress: false });
 * console.log(result.skipped); // 0: none here
 * ```
 */
export type NonFinitePolicy = "stop" | "skip";

/**
 * The input of {@linkcode pipeline}: each part either a live value (`gpt({...})`,
 * `adamw({...})`) or its registry spec (`{ kind: "adamw", options: { lr: 3e-4 } }`; a loss
 * may be just its name, `"ce"`).
 *
 * @example
 * ```ts
 * import { pipeline, type PipelineSpec } from "@lossforge/core";
 * const spec: PipelineSpec = {
 *   model: { kind: "gpt", options: { vocab: 259, context: 64, layers: 2, dim: 64, heads: 4 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 3e-4 } },
 *   data: { kind: "gsm8kSynthetic", options: { seed: 42 } },
 *   steps: 100,
 * };
 * const run = pipeline(spec); // checked, defaults filled in
 * console.log(run.batchSize, run.seed, run.logEvery); // 8 42 10
 * ```
 */
export interface PipelineSpec {
  /** A label used in logs, sweeps and reports (default `"run"`). */
  name?: string;
  /** The model. */
  model: Module<ParamTree> | PartSpec;
  /** The loss (`combine(...)` for weighted sums). */
  loss: LossFn | PartSpec | string;
  /** The optimizer. */
  optimizer: Optimizer | PartSpec;
  /**
   * The learning rate per step, given to the optimizer as its `lr` (the optimizer must then
   * come from a registered spec); without it the optimizer's own lr is used throughout.
   */
  schedule?: Schedule | PartSpec;
  /** The data source. */
  data: DataSource | PartSpec;
  /** Scores the model on held-out examples every `evalEvery` steps and at the end. */
  eval?: Evaluator | PartSpec;
  /** Optimizer steps to run (give this or `epochs`). */
  steps?: number;
  /** Passes over the training examples (give this or `steps`). */
  epochs?: number;
  /** Examples per micro-batch (default 8). */
  batchSize?: number;
  /** Micro-batches whose gradients are averaged per step (default 1). */
  gradAccum?: number;
  /** Global gradient-norm clip (off when absent). */
  clip?: number;
  /** Seeds initialisation, shuffling and dropout (default 42). */
  seed?: number;
  /** Read the loss back and report every this many steps (default 10). */
  logEvery?: number;
  /** Evaluate every this many steps; 0 = only at the end (default 0). */
  evalEvery?: number;
  /** Checkpointing; off when absent. */
  checkpoint?: CheckpointSpec;
  /** NaN / Inf losses: stop (default) or skip the step. */
  onNonFinite?: NonFinitePolicy;
}

/**
 * A checked, frozen pipeline: every part live, every default filled in. It is plain data:
 * spread it into `pipeline({ ...p, seed: 1 })` to make a variant.
 *
 * @example
 * ```ts
 * import { type Pipeline, pipeline } from "@lossforge/core";
 * const base = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 1e-3 } },
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * // A variant: the same run with another seed and more steps.
 * const variant: Pipeline = pipeline({ ...base, name: "seed1", seed: 1, steps: 100 });
 * console.log(variant.name, variant.seed, variant.steps, variant.batchSize); // "seed1" 1 100 8
 * ```
 */
export interface Pipeline {
  /** A label used in logs, sweeps and reports. */
  readonly name: string;
  /** The model. */
  readonly model: Module<ParamTree> & Described;
  /** The loss. */
  readonly loss: LossFn & Described;
  /** The optimizer. */
  readonly optimizer: Optimizer & Described;
  /** The learning-rate schedule, if any. */
  readonly schedule?: Schedule & Described;
  /** The data source. */
  readonly data: DataSource;
  /** The evaluator, if any. */
  readonly eval?: Evaluator;
  /** Optimizer steps (exactly one of `steps` and `epochs` is set). */
  readonly steps?: number;
  /** Passes over the training examples. */
  readonly epochs?: number;
  /** Examples per micro-batch. */
  readonly batchSize: number;
  /** Micro-batches per step. */
  readonly gradAccum: number;
  /** Global gradient-norm clip. */
  readonly clip?: number;
  /** The seed. */
  readonly seed: number;
  /** Steps between loss read-backs. */
  readonly logEvery: number;
  /** Steps between evaluations (0: only at the end). */
  readonly evalEvery: number;
  /** Checkpointing. */
  readonly checkpoint?: Readonly<CheckpointSpec>;
  /** NaN / Inf policy. */
  readonly onNonFinite: NonFinitePolicy;
}
