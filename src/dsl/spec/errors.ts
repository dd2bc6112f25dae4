/**
 * The errors the DSL throws. Each carries the data a program needs to react (the list of
 * problems, the step that went wrong, the checkpoint to go back to), not only a message.
 *
 * @module
 */

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
export class PipelineError extends Error {
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
 * A NaN or infinite loss stopped the run (with `onNonFinite: "stop"`, the default).
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
 *   console.log(e.step, e.checkpoint); // 2 undefined: no checkpoint had been written
 * }
 * ```
 */
export class NonFiniteLossError extends Error {
  /** The (1-based) step whose loss was not finite. */
  readonly step: number;
  /** The loss value (NaN, Infinity or -Infinity). */
  readonly loss: number;
  /** The last good checkpoint, when one was written. */
  readonly checkpoint?: string;

  /** Makes the error. */
  constructor(step: number, loss: number, checkpoint?: string) {
    super(
      `loss is ${loss} at step ${step}; training stopped. ` +
        (checkpoint
          ? `The last good checkpoint is ${checkpoint}.`
          : "No checkpoint was written before it.") +
        ` Try a lower learning rate, gradient clipping (clip), or onNonFinite: "skip".`,
    );
    this.name = "NonFiniteLossError";
    this.step = step;
    this.loss = loss;
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
export class CheckpointError extends Error {
  /** Makes the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CheckpointError";
  }
}
