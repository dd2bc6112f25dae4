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
 * import type { Json } from "./types.ts";
 * const v: Json = { lr: 3e-4, betas: [0.9, 0.999], name: "adamw" };
 * console.log(v);
 * ```
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The serialisable description of a part: the registry name it was made from and the
 * options passed to that factory. `pipelineFromJSON` rebuilds the part from it.
 *
 * @example
 * ```ts
 * import type { PartSpec } from "./types.ts";
 * const spec: PartSpec = { kind: "adamw", options: { lr: 3e-4, weightDecay: 0.01 } };
 * console.log(spec.kind);
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
 * import type { Described } from "./types.ts";
 * const part: Described = { spec: { kind: "ce" } };
 * console.log(part.spec?.kind);
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
 * import { type ApplyContext, rng } from "@lossforge/core";
 * const ctx: ApplyContext = { training: true, rng: rng(0) };
 * console.log(ctx.training);
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
 * import { embedding, type ModelLike, randn, type Tensor } from "@lossforge/core";
 * const bigram: ModelLike<{ table: Tensor }> = {
 *   init: () => ({ table: randn([259, 259]) }),
 *   apply: (p, ids) => embedding(p.table, ids),
 * };
 * console.log(typeof bigram.apply);
 * ```
 */
export type ModelLike<P extends ParamTree = ParamTree> = Module<P>;

/**
 * A pipeline's loss: the library's {@linkcode LossFn} (this name is an alias of it). The
 * runner calls it with `{ answerMask }` too, which `combine` reads and other losses ignore.
 *
 * @example
 * ```ts
 * import { focal, type LossLike } from "@lossforge/core";
 * const loss: LossLike = focal({ gamma: 2 });
 * console.log(loss.name);
 * ```
 */
export type LossLike = LossFn;

/**
 * A pipeline's optimizer: the library's {@linkcode Optimizer} (this name is an alias of it).
 * A pipeline's `schedule` reaches it as its learning rate (`LearningRate` takes a schedule).
 *
 * @example
 * ```ts
 * import { adamw, cosine, type OptimizerLike } from "@lossforge/core";
 * const opt: OptimizerLike = adamw({ lr: cosine({ peak: 3e-4, steps: 1000 }) });
 * console.log(typeof opt.update);
 * ```
 */
export type OptimizerLike = Optimizer;

/**
 * A pipeline's learning-rate schedule: the library's {@linkcode Schedule} (this name is an
 * alias of it).
 *
 * @example
 * ```ts
 * import type { ScheduleLike } from "@lossforge/core";
 * const halve: ScheduleLike = (step) => 1e-3 * 0.5 ** Math.floor(step / 100);
 * console.log(halve(250));
 * ```
 */
export type ScheduleLike = Schedule;

/**
 * A training or evaluation example: a prompt and its target text (a `Gsm8kExample` is one).
 *
 * @example
 * ```ts
 * import type { Example } from "./types.ts";
 * const e: Example = { prompt: "Question: 2+2?\nAnswer: ", target: "<<2+2=4>> #### 4" };
 * console.log(e.target);
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
 * import type { LoadedData } from "./types.ts";
 * const d: LoadedData = { train: [{ prompt: "a", target: "b" }], eval: [] };
 * console.log(d.train.length);
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
 * import { byteTokenizer } from "@lossforge/core";
 * import type { DataSource } from "./types.ts";
 * const tiny: DataSource = {
 *   name: "tiny",
 *   tokenizer: byteTokenizer(),
 *   maxLength: 16,
 *   load: () => Promise.resolve({ train: [{ prompt: "a", target: "b" }], eval: [] }),
 * };
 * console.log(tiny.name);
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
 * import type { EvalRunOptions } from "./types.ts";
 * const o: EvalRunOptions = { examples: [{ prompt: "1+1=", target: "2" }] };
 * console.log(o.examples.length);
 * ```
 */
export interface EvalRunOptions {
  /** The held-out examples to score. */
  examples: readonly Example[];
  /** Cancels a long evaluation between batches. */
  signal?: AbortSignal;
}

/**
 * Scores a model: `run` returns named metrics (e.g. `{ exactMatch: 0.31, iou: 0.4 }`).
 *
 * @example
 * ```ts
 * import type { Evaluator } from "./types.ts";
 * const count: Evaluator = {
 *   name: "count",
 *   run: (_m, _p, _d, o) => Promise.resolve({ count: o.examples.length }),
 * };
 * console.log(count.name);
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
 * import type { CheckpointSpec } from "@lossforge/core";
 * const c: CheckpointSpec = { dir: "runs/a/checkpoints", every: 100, keep: 3 };
 * console.log(c.dir);
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
 * import type { NonFinitePolicy } from "@lossforge/core";
 * const p: NonFinitePolicy = "skip";
 * console.log(p);
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
 * import type { PipelineSpec } from "@lossforge/core";
 * const spec: PipelineSpec = {
 *   model: { kind: "gpt", options: { vocab: 259, context: 64, layers: 2, dim: 64, heads: 4 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: 3e-4 } },
 *   data: { kind: "gsm8kSynthetic", options: { seed: 42 } },
 *   steps: 100,
 * };
 * console.log(spec.steps);
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
 * import type { Pipeline } from "@lossforge/core";
 * const describeRun = (p: Pipeline) => `${p.name}: ${p.steps ?? p.epochs} x ${p.batchSize}`;
 * console.log(typeof describeRun);
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
