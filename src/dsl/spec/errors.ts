/**
 * The errors the DSL throws. Each carries the data a program needs to react (the list of
 * problems, the step that went wrong, the checkpoint to go back to), not only a message.
 *
 * @module
 */

import { LossforgeError } from "../../autograd/errors.ts";

/**
 * One problem in a pipeline: where (`optimizer.lr`) and what (`must be > 0, got -1`).
 *
 * @example
 * ```ts
 * import { pipeline, PipelineError, type Problem } from "@lossforge/core";
 * const bad = {
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: -1 } },
 *   data: { kind: "gsm8kSynthetic" },
 *   steps: 0,
 * };
 * try {
 *   pipeline(bad);
 * } catch (e) {
 *   const problems: readonly Problem[] = e instanceof PipelineError ? e.problems : [];
 *   for (const p of problems) console.log(`${p.path}: ${p.message}`);
 *   // "optimizer.options.lr: must be > 0, got -1"
 *   // "steps: must be an integer >= 1, got 0"
 * }
 * ```
 */
export interface Problem {
  /** Dotted path from the pipeline root. */
  path: string;
  /** What is wrong, with the offending value. */
  message: string;
}

/**
 * A pipeline that cannot run, listing every problem found (not only the first).
 *
 * @example
 * ```ts
 * import { pipeline, PipelineError } from "@lossforge/core";
 * const bad = {
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "adamw", options: { lr: -1 } },
 *   data: { kind: "gsm8kSynthetic" },
 *   steps: 0,
 * };
 * try {
 *   pipeline(bad);
 * } catch (e) {
 *   if (!(e instanceof PipelineError)) throw e;
 *   console.log(e.message);
 *   // invalid pipeline (2 problems):
 *   //   optimizer.options.lr: must be > 0, got -1
 *   //   steps: must be an integer >= 1, got 0
 * }
 * ```
 */
export class PipelineError extends LossforgeError {
  /** Every problem, in the order found. */
  readonly problems: readonly Problem[];

  /** Makes the error from its problems. */
  constructor(problems: readonly Problem[]) {
    const n = problems.length;
    super(
      `invalid pipeline (${n} problem${n === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  ${p.path || "(pipeline)"}: ${p.message}`).join("\n"),
    );
    this.name = "PipelineError";
    this.problems = Object.freeze([...problems]);
  }
}

/**
 * Where a non-finite step went wrong, besides its step and loss: see
 * {@linkcode NonFiniteLossError}.
 *
 * @example
 * ```ts
 * import type { NonFiniteDetails } from "@lossforge/core";
 * const d: NonFiniteDetails = { gradNorm: NaN, path: "layers.0.attn.q.weight" };
 * console.log(d.path); // the first parameter (tree order) whose gradient held a NaN or Inf
 * ```
 */
export interface NonFiniteDetails {
  /** The global gradient norm of the step (before clipping). */
  gradNorm?: number;
  /**
   * The tree path (dotted, as `flattenParams` names it) of the first parameter, in tree
   * order, whose gradient held a NaN or an infinity; absent when every gradient was finite.
   */
  path?: string;
  /** Whether the last good checkpoint was read back and matched its checksums. */
  checkpointIntact?: boolean;
}

/**
 * A NaN or infinite loss or gradient stopped the run (with `onNonFinite: "stop"`, the
 * default). The message names the step and the first parameter whose gradient went
 * non-finite, and the last good checkpoint, which the run leaves as it was.
 *
 * @example
 * ```ts
 * import { NonFiniteLossError, pipeline, train } from "@lossforge/core";
 * const run = pipeline({
 *   model: { kind: "gpt", options: { vocab: 259, context: 32, layers: 1, dim: 16, heads: 2 } },
 *   loss: "ce",
 *   optimizer: { kind: "sgd", options: { lr: 1e30 } }, // far too high: the loss blows up
 *   data: { kind: "gsm8kSynthetic", options: { count: 16, maxLength: 32 } },
 *   steps: 4,
 * });
 * try {
 *   await train(run);
 * } catch (e) {
 *   if (!(e instanceof NonFiniteLossError)) throw e;
 *   console.log(e.step, e.path, e.checkpoint); // 2 "transformer.wte.weight" undefined
 * }
 * ```
 */
export class NonFiniteLossError extends LossforgeError {
  /** The (1-based) step whose loss or gradients were not finite. */
  readonly step: number;
  /** The loss value (NaN, Infinity or -Infinity, or a finite loss with bad gradients). */
  readonly loss: number;
  /** The step's global gradient norm (NaN when unknown). */
  readonly gradNorm: number;
  /** The first parameter path whose gradient held a NaN or an infinity, if any did. */
  readonly path?: string;
  /** The last good checkpoint, when one was written. */
  readonly checkpoint?: string;

  /** Makes the error. */
  constructor(step: number, loss: number, checkpoint?: string, details: NonFiniteDetails = {}) {
    const gradNorm = details.gradNorm ?? NaN;
    const what = Number.isFinite(loss) && details.gradNorm !== undefined
      ? `gradient norm is ${gradNorm} at step ${step} (loss ${loss})`
      : `loss is ${loss} at step ${step}`;
    const where = details.path !== undefined
      ? ` (first non-finite gradient: ${details.path})`
      : details.gradNorm !== undefined
      ? " (every gradient is free of NaN and Inf)"
      : "";
    const kept = details.checkpointIntact === true
      ? " (intact: its checksums match)"
      : details.checkpointIntact === false
      ? " (but it fails its checksums)"
      : "";
    super(
      `${what}${where}; training stopped. ` +
        (checkpoint
          ? `The last good checkpoint is ${checkpoint}${kept}.`
          : "No checkpoint was written before it.") +
        ` Try a lower learning rate, gradient clipping (clip), or onNonFinite: "skip".`,
    );
    this.name = "NonFiniteLossError";
    this.step = step;
    this.loss = loss;
    this.gradNorm = gradNorm;
    if (details.path !== undefined) this.path = details.path;
    this.checkpoint = checkpoint;
  }
}

/**
 * A checkpoint folder that cannot be read (missing, incomplete or from another pipeline).
 *
 * @example
 * ```ts
 * import { CheckpointError, loadCheckpoint } from "@lossforge/core";
 * try {
 *   await loadCheckpoint("runs/none");
 * } catch (e) {
 *   if (!(e instanceof CheckpointError)) throw e;
 *   console.log(e.message); // "runs/none: no checkpoint found (expected step-NNNNNNNN/)"
 * }
 * ```
 */
export class CheckpointError extends LossforgeError {
  /** Makes the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CheckpointError";
  }
}

// A write in src/util (atomic files) fails with it too, so it lives beside that code.
export { RunFolderError } from "../../util/errors.ts";
