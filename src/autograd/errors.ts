/**
 * Typed errors. Every message names the op or field and the offending values, for example
 * `matmul: inner dimensions differ: a is [2,3], b is [4,5]`.
 * @module
 */

/**
 * Base class of every error lossforge throws on purpose.
 *
 * @example
 * ```ts
 * import { LossforgeError } from "@lossforge/core";
 * try { throw new LossforgeError("boom"); } catch (e) { console.log(e instanceof LossforgeError); }
 * ```
 */
export class LossforgeError extends Error {
  /** Makes an error with a message (and optionally a `cause`). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Shapes that do not fit an op.
 *
 * @example
 * ```ts
 * import { ShapeError } from "@lossforge/core";
 * const e = new ShapeError("matmul: inner dimensions differ: a is [2,3], b is [4,5]");
 * console.log(e.name); // "ShapeError"
 * ```
 */
export class ShapeError extends LossforgeError {}

/**
 * A dtype an op cannot take (for example float64 on WebGPU, or an int tensor where a float
 * one is needed).
 *
 * @example
 * ```ts
 * import { DTypeError } from "@lossforge/core";
 * console.log(new DTypeError("exp: int32 input").name);
 * ```
 */
export class DTypeError extends LossforgeError {}

/**
 * A backend problem: tensors on different backends in one op, a disposed tensor, or no
 * WebGPU adapter.
 *
 * @example
 * ```ts
 * import { BackendError } from "@lossforge/core";
 * console.log(new BackendError("add: a is on cpu, b is on webgpu").name);
 * ```
 */
export class BackendError extends LossforgeError {}

/**
 * An argument outside its valid range (an axis, an index, an option).
 *
 * @example
 * ```ts
 * import { ValueError } from "@lossforge/core";
 * console.log(new ValueError("sum: axis 3 out of range for rank 2").name);
 * ```
 */
export class ValueError extends LossforgeError {}

/** Formats a shape as `[2,3]` for error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}
