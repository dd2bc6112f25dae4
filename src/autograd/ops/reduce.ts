/**
 * Reductions: sum, mean, max, min, logsumexp, argmax.
 * @module
 */
import type { ReduceOp } from "../backend.ts";
import { ValueError } from "../errors.ts";
import { normAxes, normAxis, reducedShape, sizeOf } from "../shape.ts";
import { noGrad, record } from "../tape.ts";
import { fromBuffer, type Tensor } from "../tensor.ts";
import { noHalf } from "./core.ts";
import { add, div, eq, exp, log, mul, sub, where } from "./elementwise.ts";
import { expand, reshape } from "./shape_ops.ts";

/**
 * An axis spec: one axis, a list, or undefined for all axes.
 * @example
 * ```ts
 * import { type Axis, mean, type Tensor, tensor } from "@lossforge/core";
 * // An axis, several axes, or undefined for all of them.
 * const centre = (x: Tensor, axis: Axis) => x.sub(mean(x, axis, true));
 * console.log(await centre(tensor([[1, 3], [5, 7]]), -1).array()); // [[-1, 1], [-1, 1]]
 * console.log(await centre(tensor([[1, 3], [5, 7]]), undefined).array()); // [[-3, -1], [1, 3]]
 * ```
 */
export type Axis = number | readonly number[] | undefined;

function reduceRaw(op: ReduceOp, x: Tensor, axes: number[], keepdim: boolean): Tensor {
  noHalf(op, x);
  const b = x.backend;
  const buf = b.reduce(op, x.buf, x.shape, axes, x.dtype);
  return fromBuffer(b, buf, reducedShape(x.shape, axes, keepdim), x.dtype);
}

/** Brings a reduced gradient back to the input's shape. */
function spread(g: Tensor, x: Tensor, axes: number[]): Tensor {
  return expand(reshape(g, reducedShape(x.shape, axes, true)), x.shape);
}

/**
 * Sum over `axis` (default: all).
 * @example
 * ```ts
 * import { sum, tensor } from "@lossforge/core";
 * const x = tensor([[1, 2], [3, 4]]);
 * console.log(await sum(x).item(), await sum(x, 0).array()); // 10, [4, 6]
 * console.log(await sum(x, -1, true).array()); // [[3], [7]]
 * ```
 */
export function sum(x: Tensor, axis?: Axis, keepdim = false): Tensor {
  const axes = normAxes("sum", axis, x.rank);
  const out = reduceRaw("sum", x, axes, keepdim);
  return record("sum", out, [x], (g) => [spread(g, x, axes)]);
}

/**
 * Mean over `axis` (default: all). The mean of nothing is NaN, as 0/0.
 * @example
 * ```ts
 * import { mean, tensor } from "@lossforge/core";
 * console.log(await mean(tensor([[1, 2], [3, 6]]), -1).array()); // [1.5, 4.5]
 * ```
 */
export function mean(x: Tensor, axis?: Axis, keepdim = false): Tensor {
  const axes = normAxes("mean", axis, x.rank);
  const n = sizeOf(axes.map((a) => x.shape[a]));
  return div(sum(x, axes, keepdim), n);
}

function extreme(op: "max" | "min", x: Tensor, axis: Axis, keepdim: boolean): Tensor {
  const axes = normAxes(op, axis, x.rank);
  for (const a of axes) {
    if (x.shape[a] === 0) throw new ValueError(`${op}: axis ${a} has size 0`);
  }
  const out = reduceRaw(op, x, axes, keepdim);
  return record(op, out, [x], (g) => {
    // Ties share the gradient equally.
    const mask = eq(x, spread(out, x, axes));
    const count = sum(mask, axes, true);
    return [div(mul(spread(g, x, axes), mask), count)];
  });
}

/**
 * Maximum over `axis` (default: all); ties share the gradient.
 * @example
 * ```ts
 * import { max, tensor } from "@lossforge/core";
 * console.log(await max(tensor([[1, 3], [4, 2]]), -1).array()); // [3, 4]
 * ```
 */
export function max(x: Tensor, axis?: Axis, keepdim = false): Tensor {
  return extreme("max", x, axis, keepdim);
}

/**
 * Minimum over `axis` (default: all); ties share the gradient.
 * @example
 * ```ts
 * import { min, tensor } from "@lossforge/core";
 * console.log(await min(tensor([[1, 3], [4, 2]]), -1).array()); // [1, 2]
 * ```
 */
export function min(x: Tensor, axis?: Axis, keepdim = false): Tensor {
  return extreme("min", x, axis, keepdim);
}

/**
 * log Σ exp(x) over `axis`, stable for large inputs (shifts by the max, treated as a
 * constant, which does not change the gradient).
 * @example
 * ```ts
 * import { logsumexp, tensor } from "@lossforge/core";
 * console.log(await logsumexp(tensor([0, 0])).item()); // log 2 ≈ 0.6931
 * console.log(await logsumexp(tensor([1000, 1000])).item()); // ≈ 1000.6931: no overflow
 * ```
 */
export function logsumexp(x: Tensor, axis?: Axis, keepdim = false): Tensor {
  const axes = normAxes("logsumexp", axis, x.rank);
  const m = noGrad(() => {
    const raw = reduceRaw("max", x, axes, true);
    // Rows of -Infinity (or +Infinity) would make x - m NaN; shift those by 0 instead.
    const finite = eq(sub(raw, raw), 0);
    return where(finite, raw, 0);
  });
  const s = log(sum(exp(sub(x, m)), axes, true));
  const out = add(s, m);
  return keepdim ? out : reshape(out, reducedShape(x.shape, axes, false));
}

/**
 * Index of the largest value along `axis` (int32; first on ties; no gradient).
 * @example
 * ```ts
 * import { argmax, tensor } from "@lossforge/core";
 * console.log(await argmax(tensor([[1, 3, 2], [4, 0, 1]])).array()); // [1, 0] (int32)
 * ```
 */
export function argmax(x: Tensor, axis = -1, keepdim = false): Tensor {
  noHalf("argmax", x);
  const ax = normAxis("argmax", axis, x.rank);
  if (x.shape[ax] === 0) throw new ValueError(`argmax: axis ${ax} has size 0`);
  const b = x.backend;
  const buf = b.argmax(x.buf, x.shape, ax, x.dtype);
  return fromBuffer(b, buf, reducedShape(x.shape, [ax], keepdim), "int32");
}
