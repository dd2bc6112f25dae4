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
 * import type { Problem } from "./errors.ts";
 * const p: Problem = { path: "optimizer.lr", message: "must be > 0, got -1" };
 * console.log(`${p.path}: ${p.message}`);
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
 * import { PipelineError } from "./errors.ts";
 * const e = new PipelineError([{ path: "steps", message: "must be an integer >= 1, got 0" }]);
 * console.log(e.message); // "invalid pipeline (1 problem):\n  steps: must be ..."
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
 * import { NonFiniteLossError } from "./errors.ts";
 * const e = new NonFiniteLossError(12, NaN, "runs/a/step-00000010");
 * console.log(e.step, e.checkpoint);
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
 * import { CheckpointError } from "./errors.ts";
 * console.log(new CheckpointError("runs/x: no checkpoint found").message);
 * ```
 */
export class CheckpointError extends Error {
  /** Makes the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CheckpointError";
  }
}
