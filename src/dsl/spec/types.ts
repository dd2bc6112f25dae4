/**
 * The shapes of the parts a pipeline is made of. They are structural on purpose: any
 * object with the right methods works (the library's own `gpt`, `adamw`, `crossEntropy`,
 * or a three-line model written in a test), so the DSL depends on no other folder's
 * concrete classes.
 *
 * @module
 */

import type { CombineCallOptions } from "../../losses/combine.ts";
import type { Rng, Tensor, Tree } from "../../autograd/mod.ts";
import type { Tokenizer } from "../../data/mod.ts";

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
  /** The registry name, e.g. `"gpt"`, `"ce"`, `"adamw"`, `"gsm8k-synthetic"`. */
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
 * What the runner passes to `model.apply` as its third argument.
 *
 * @example
 * ```ts
 * import { rng } from "../../autograd/mod.ts";
 * import type { ApplyContext } from "./types.ts";
 * const ctx: ApplyContext = { training: true, rng: rng(0) };
 * console.log(ctx.training);
 * ```
 */
export interface ApplyContext {
  /** True while training (dropout on), false while evaluating. */
  training?: boolean;
  /** A generator for this step's randomness (dropout); its state is checkpointed. */
  rng?: Rng;
}

/**
 * A model: `init(rng)` makes a parameter tree, `apply(params, ids [B,T] int32)` returns
 * logits `[B, T, V]`.
 *
 * @example
 * ```ts
 * import { embedding, randn, type Tensor } from "../../autograd/mod.ts";
 * import type { ModelLike } from "./types.ts";
 * const bigram: ModelLike<{ table: Tensor }> = {
 *   init: () => ({ table: randn([259, 259]) }),
 *   apply: (p, ids) => embedding(p.table, ids),
 * };
 * console.log(typeof bigram.apply);
 * ```
 */
export interface ModelLike<P extends Tree = Tree> extends Described {
  /** Makes fresh parameters. */
  init(rng: Rng): P;
  /** Logits `[B, T, V]` for ids `[B, T]`. */
  apply(params: P, ids: Tensor, ctx?: ApplyContext): Tensor;
}

/**
 * A loss: `(logits [..., C], targets int32 [...] (-100 ignored), options?) => scalar`.
 *
 * @example
 * ```ts
 * import type { LossLike } from "./types.ts";
 * const zero: LossLike = (logits) => logits.mul(0).sum();
 * console.log(typeof zero);
 * ```
 */
export interface LossLike extends Described {
  /** The scalar loss. */
  (logits: Tensor, targets: Tensor, options?: CombineCallOptions): Tensor;
}

/**
 * An optax-style optimizer: `init(params)` makes its state, `update` returns new params
 * and state. `withLr(lr)` (optional) returns the same optimizer with another learning
 * rate; without it, a schedule rebuilds the optimizer from its spec through the registry.
 *
 * @example
 * ```ts
 * import { treeMap, type Tree } from "../../autograd/mod.ts";
 * import type { OptimizerLike } from "./types.ts";
 * const sgd = (lr: number): OptimizerLike => ({
 *   init: () => null,
 *   update: (g, s, p) => ({ params: treeMap((x, d) => x.sub(d.mul(lr)), p, g), state: s }),
 *   withLr: (l) => sgd(l),
 * });
 * console.log(typeof sgd(0.1).update);
 * ```
 */
export interface OptimizerLike extends Described {
  /** Makes the optimizer state for `params`. */
  init(params: Tree): Tree;
  /**
   * One update. With `acceptsGradScale`, `gradScale` (one element) multiplies every gradient
   * first (`train` passes gradient clipping's factor this way).
   */
  update(grads: Tree, state: Tree, params: Tree, gradScale?: Tensor): { params: Tree; state: Tree };
  /** Whether `update` takes `gradScale` (else `train` scales the gradients itself). */
  readonly acceptsGradScale?: boolean;
  /** The same optimizer with learning rate `lr` (used by schedules). */
  withLr?(lr: number): OptimizerLike;
  /** The base learning rate, when the optimizer exposes it. */
  readonly lr?: number;
}

/**
 * A learning-rate schedule: the learning rate at a (0-based) optimizer step.
 *
 * @example
 * ```ts
 * import type { ScheduleLike } from "./types.ts";
 * const halve: ScheduleLike = (step) => 1e-3 * 0.5 ** Math.floor(step / 100);
 * console.log(halve(250));
 * ```
 */
export interface ScheduleLike extends Described {
  /** The learning rate at `step`. */
  (step: number): number;
}

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
 * import { byteTokenizer } from "../../data/mod.ts";
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
    model: ModelLike,
    params: Tree,
    data: DataSource,
    options: EvalRunOptions,
  ): Promise<Record<string, number>>;
}
