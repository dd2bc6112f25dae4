/**
 * Elementwise ops, each with its backward rule beside it. Binary ops broadcast as NumPy.
 * @module
 */
import type { BinaryOp, UnaryOp } from "../backend.ts";
import { isFloat } from "../dtype.ts";
import { broadcastShapes, sameShape } from "../shape.ts";
import { fusedPolicy } from "../fused.ts";
import { isRecording, record, sumToShape } from "../tape.ts";
import { fromBuffer, type Tensor, type TensorLike } from "../tensor.ts";
import { backendOf, lift, needFloat, noHalf, resultDtype } from "./core.ts";
import { cast } from "./misc.ts";

type Rule1 = (g: Tensor, x: Tensor, out: Tensor) => Tensor;

const INT_OK = new Set<UnaryOp>(["neg", "abs", "sign", "square", "relu", "step", "floor"]);

function unary(op: UnaryOp, x: Tensor, rule?: Rule1): Tensor {
  noHalf(op, x);
  if (!INT_OK.has(op)) needFloat(op, x);
  const b = x.backend;
  // A strided view (transpose, permute, expand, slice) is read in place, without a copy.
  const l = x._layout ?? undefined;
  const buf = b.unary(op, x.storage.buf, x.size, x.dtype, l && x.shape, l);
  const out = fromBuffer(b, buf, x.shape, x.dtype);
  return rule ? record(op, out, [x], (g) => [rule(g, x, out)]) : out;
}

/**
 * -x.
 * @example
 * ```ts
 * import { neg, tensor } from "@lossforge/core";
 * console.log(await neg(tensor([1, -2])).array()); // [-1, 2]
 * ```
 */
export function neg(x: Tensor): Tensor {
  return unary("neg", x, (g) => neg(g));
}
/**
 * e^x.
 * @example
 * ```ts
 * import { exp, tensor } from "@lossforge/core";
 * console.log(await exp(tensor([0, 1])).array()); // ≈ [1, 2.7183]
 * ```
 */
export function exp(x: Tensor): Tensor {
  return unary("exp", x, (g, _x, out) => mul(g, out));
}
/**
 * Natural logarithm.
 * @example
 * ```ts
 * import { log, tensor } from "@lossforge/core";
 * console.log(await log(tensor([1, Math.E])).array()); // ≈ [0, 1]
 * ```
 */
export function log(x: Tensor): Tensor {
  return unary("log", x, (g, x) => div(g, x));
}
/**
 * Square root.
 * @example
 * ```ts
 * import { sqrt, tensor } from "@lossforge/core";
 * console.log(await sqrt(tensor([4, 9])).array()); // [2, 3]
 * ```
 */
export function sqrt(x: Tensor): Tensor {
  return unary("sqrt", x, (g, _x, out) => div(mul(g, 0.5), out));
}
/**
 * 1 / sqrt(x).
 * @example
 * ```ts
 * import { rsqrt, tensor } from "@lossforge/core";
 * console.log(await rsqrt(tensor([4, 16])).array()); // [0.5, 0.25]
 * ```
 */
export function rsqrt(x: Tensor): Tensor {
  return unary("rsqrt", x, (g, _x, out) => mul(mul(g, -0.5), mul(out, square(out))));
}
/**
 * x².
 * @example
 * ```ts
 * import { square, tensor } from "@lossforge/core";
 * console.log(await square(tensor([3, -2])).array()); // [9, 4]
 * ```
 */
export function square(x: Tensor): Tensor {
  return unary("square", x, (g, x) => mul(mul(g, x), 2));
}
/**
 * |x|; its gradient at 0 is 0.
 * @example
 * ```ts
 * import { abs, tensor } from "@lossforge/core";
 * console.log(await abs(tensor([-2, 3])).array()); // [2, 3]
 * ```
 */
export function abs(x: Tensor): Tensor {
  return unary("abs", x, (g, x) => mul(g, sign(x)));
}
/**
 * -1, 0 or 1 (no gradient).
 * @example
 * ```ts
 * import { sign, tensor } from "@lossforge/core";
 * console.log(await sign(tensor([-3, 0, 2])).array()); // [-1, 0, 1]
 * ```
 */
export function sign(x: Tensor): Tensor {
  return unary("sign", x);
}
/**
 * 1 where x > 0 else 0 (no gradient).
 * @example
 * ```ts
 * import { step, tensor } from "@lossforge/core";
 * console.log(await step(tensor([2, 0, -1])).array()); // [1, 0, 0]
 * ```
 */
export function step(x: Tensor): Tensor {
  return unary("step", x);
}
/**
 * Rounds down (no gradient).
 * @example
 * ```ts
 * import { floor, tensor } from "@lossforge/core";
 * console.log(await floor(tensor([1.5, -1.5])).array()); // [1, -2]
 * ```
 */
export function floor(x: Tensor): Tensor {
  return unary("floor", x);
}
/**
 * tanh(x).
 * @example
 * ```ts
 * import { tanh, tensor } from "@lossforge/core";
 * console.log(await tanh(tensor([0, 1])).array()); // ≈ [0, 0.7616]
 * ```
 */
export function tanh(x: Tensor): Tensor {
  return unary("tanh", x, (g, _x, t) => mul(g, sub(1, square(t))));
}
/**
 * The logistic function 1 / (1 + e^-x).
 * @example
 * ```ts
 * import { sigmoid, tensor } from "@lossforge/core";
 * console.log(await sigmoid(tensor([0, 2])).array()); // ≈ [0.5, 0.8808]
 * ```
 */
export function sigmoid(x: Tensor): Tensor {
  return unary("sigmoid", x, (g, _x, s) => mul(g, mul(s, sub(1, s))));
}
/**
 * max(x, 0); gradient 0 at 0.
 * @example
 * ```ts
 * import { relu, tensor } from "@lossforge/core";
 * console.log(await relu(tensor([-1, 2])).array()); // [0, 2]
 * ```
 */
export function relu(x: Tensor): Tensor {
  return unary("relu", x, (g, x) => mul(g, step(x)));
}
/**
 * sin(x).
 * @example
 * ```ts
 * import { sin, tensor } from "@lossforge/core";
 * console.log(await sin(tensor([0, Math.PI / 2])).array()); // ≈ [0, 1]
 * ```
 */
export function sin(x: Tensor): Tensor {
  return unary("sin", x, (g, x) => mul(g, cos(x)));
}
/**
 * cos(x).
 * @example
 * ```ts
 * import { cos, tensor } from "@lossforge/core";
 * console.log(await cos(tensor([0, Math.PI])).array()); // ≈ [1, -1]
 * ```
 */
export function cos(x: Tensor): Tensor {
  return unary("cos", x, (g, x) => neg(mul(g, sin(x))));
}
/**
 * 1 / x.
 * @example
 * ```ts
 * import { recip, tensor } from "@lossforge/core";
 * console.log(await recip(tensor([4, 0.5])).array()); // [0.25, 2]
 * ```
 */
export function recip(x: Tensor): Tensor {
  return unary("recip", x, (g, _x, out) => neg(mul(g, square(out))));
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/**
 * GELU, tanh approximation (GPT-2's): 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))).
 * @example
 * ```ts
 * import { gelu, tensor } from "@lossforge/core";
 * console.log(await gelu(tensor([-1, 0, 1])).array()); // ≈ [-0.1588, 0, 0.8412]
 * ```
 */
export function gelu(x: Tensor): Tensor {
  return unary("gelu", x, (g, x) => {
    // One fused kernel, unless this backward pass is itself being differentiated (the
    // composed rule below is what a gradient of the gradient needs).
    const bk = x.backend;
    if (bk.geluGrad && fusedPolicy.choose("geluGrad") && !isRecording() && g.dtype === x.dtype) {
      return fromBuffer(bk, bk.geluGrad(x.buf, g.buf, x.size, x.dtype), x.shape, x.dtype);
    }
    // d/dx = 0.5 (1 + t) + 0.5 x (1 - t²) c (1 + 3k x²), t = tanh(c (x + k x³))
    const x2 = square(x);
    const t = tanh(mul(add(x, mul(mul(x2, x), GELU_K)), GELU_C));
    const left = mul(add(t, 1), 0.5);
    const right = mul(mul(mul(x, sub(1, square(t))), add(mul(x2, 3 * GELU_K), 1)), 0.5 * GELU_C);
    return mul(g, add(left, right));
  });
}

/**
 * SiLU (swish): x · sigmoid(x).
 * @example
 * ```ts
 * import { silu, tensor } from "@lossforge/core";
 * console.log(await silu(tensor([0, 1])).array()); // ≈ [0, 0.7311]
 * ```
 */
export function silu(x: Tensor): Tensor {
  return unary("silu", x, (g, x) => {
    const s = sigmoid(x);
    return mul(g, mul(s, add(mul(x, sub(1, s)), 1)));
  });
}

type Rule2 = (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null];

function binary(op: BinaryOp, x: TensorLike, y: TensorLike, rule?: Rule2): Tensor {
  noHalf(op, x, y);
  let a = typeof x === "number" ? lift(x, y as Tensor) : x;
  let b = lift(y, a);
  if (typeof x === "number") a = lift(x, b);
  const bk = backendOf(op, a, b);
  const dtype = resultDtype(a, b);
  if (a.dtype !== dtype) a = cast(a, dtype);
  if (b.dtype !== dtype) b = cast(b, dtype);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = fromBuffer(
    bk,
    bk.binary(
      op,
      a.storage.buf,
      a.shape,
      b.storage.buf,
      b.shape,
      shape,
      dtype,
      a._layout ?? undefined,
      b._layout ?? undefined,
    ),
    shape,
    dtype,
  );
  if (!rule || !isFloat(dtype)) return out;
  const A = a, B = b;
  return record(op, out, [A, B], (g) => {
    const [ga, gb] = rule(g, A, B, out);
    return [
      ga && A._requiresGrad ? sumToShape(ga, A.shape) : null,
      gb && B._requiresGrad ? sumToShape(gb, B.shape) : null,
    ];
  });
}

/**
 * a + b, broadcasting.
 * @example
 * ```ts
 * import { add, tensor } from "@lossforge/core";
 * const col = tensor([[1], [2]]), row = tensor([10, 20]); // broadcast to [2, 2]
 * console.log(await add(col, row).array()); // [[11, 21], [12, 22]]
 * ```
 */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return binary("add", a, b, (g) => [g, g]);
}
/**
 * a - b.
 * @example
 * ```ts
 * import { sub, tensor } from "@lossforge/core";
 * console.log(await sub(tensor([3, 5]), tensor([1, 2])).array()); // [2, 3]
 * ```
 */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binary("sub", a, b, (g, _a, b) => [g, b._requiresGrad ? neg(g) : null]);
}
/**
 * a · b.
 * @example
 * ```ts
 * import { mul, tensor } from "@lossforge/core";
 * console.log(await mul(tensor([2, 3]), 3).array()); // [6, 9]
 * ```
 */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary("mul", a, b, (g, a, b) => [
    a._requiresGrad ? mul(g, b) : null,
    b._requiresGrad ? mul(g, a) : null,
  ]);
}
/**
 * a / b (int32: truncating).
 * @example
 * ```ts
 * import { div, tensor } from "@lossforge/core";
 * console.log(await div(tensor([6, 3]), tensor([3, 2])).array()); // [2, 1.5]
 * ```
 */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return binary("div", a, b, (g, a, b, out) => [
    a._requiresGrad ? div(g, b) : null,
    b._requiresGrad ? neg(div(mul(g, out), b)) : null,
  ]);
}
/**
 * a ** b.
 * @example
 * ```ts
 * import { pow, tensor } from "@lossforge/core";
 * console.log(await pow(tensor([2, 3]), 2).array()); // [4, 9]
 * ```
 */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return binary("pow", a, b, (g, a, b, out) => [
    a._requiresGrad ? mul(mul(g, b), pow(a, sub(b, 1))) : null,
    b._requiresGrad ? mul(mul(g, out), log(a)) : null,
  ]);
}
/**
 * Elementwise maximum; ties send the gradient to a.
 * @example
 * ```ts
 * import { maximum, tensor } from "@lossforge/core";
 * console.log(await maximum(tensor([1, 5]), 3).array()); // [3, 5]
 * ```
 */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binary("maximum", a, b, (g, a, b) => {
    const m = ge(a, b);
    return [mul(g, m), mul(g, sub(1, m))];
  });
}
/**
 * Elementwise minimum; ties send the gradient to a.
 * @example
 * ```ts
 * import { minimum, tensor } from "@lossforge/core";
 * console.log(await minimum(tensor([1, 5]), 3).array()); // [1, 3]
 * ```
 */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binary("minimum", a, b, (g, a, b) => {
    const m = le(a, b);
    return [mul(g, m), mul(g, sub(1, m))];
  });
}
/**
 * 1 where a == b else 0.
 * @example
 * ```ts
 * import { eq, tensor } from "@lossforge/core";
 * console.log(await eq(tensor([1, 2]), 2).array()); // [0, 1]
 * ```
 */
export function eq(a: TensorLike, b: TensorLike): Tensor {
  return binary("eq", a, b);
}
/**
 * 1 where a != b else 0.
 * @example
 * ```ts
 * import { ne, tensor } from "@lossforge/core";
 * console.log(await ne(tensor([1, 2]), 2).array()); // [1, 0]
 * ```
 */
export function ne(a: TensorLike, b: TensorLike): Tensor {
  return binary("ne", a, b);
}
/**
 * 1 where a < b else 0.
 * @example
 * ```ts
 * import { lt, tensor } from "@lossforge/core";
 * console.log(await lt(tensor([1, 2]), 2).array()); // [1, 0]
 * ```
 */
export function lt(a: TensorLike, b: TensorLike): Tensor {
  return binary("lt", a, b);
}
/**
 * 1 where a <= b else 0.
 * @example
 * ```ts
 * import { le, tensor } from "@lossforge/core";
 * console.log(await le(tensor([1, 2, 3]), 2).array()); // [1, 1, 0]
 * ```
 */
export function le(a: TensorLike, b: TensorLike): Tensor {
  return binary("le", a, b);
}
/**
 * 1 where a > b else 0.
 * @example
 * ```ts
 * import { gt, tensor } from "@lossforge/core";
 * console.log(await gt(tensor([1, 2]), 1).array()); // [0, 1]
 * ```
 */
export function gt(a: TensorLike, b: TensorLike): Tensor {
  return binary("gt", a, b);
}
/**
 * 1 where a >= b else 0.
 * @example
 * ```ts
 * import { ge, tensor } from "@lossforge/core";
 * console.log(await ge(tensor([1, 2, 3]), 2).array()); // [0, 1, 1]
 * ```
 */
export function ge(a: TensorLike, b: TensorLike): Tensor {
  return binary("ge", a, b);
}

/**
 * cond != 0 ? a : b, broadcasting all three. Gradients flow to a and b, not to cond.
 * @example
 * ```ts
 * import { tensor, where } from "@lossforge/core";
 * const x = tensor([-1, 2, -3]);
 * console.log(await where(x.gt(0), x, 0).array()); // [0, 2, 0]
 * ```
 */
export function where(cond: Tensor, x: TensorLike, y: TensorLike): Tensor {
  noHalf("where", cond, x, y);
  let a = lift(x, typeof y === "number" ? cond : y);
  let b = lift(y, a);
  if (typeof x === "number") a = lift(x, b);
  const bk = backendOf("where", cond, a, b);
  const dtype = resultDtype(a, b);
  if (a.dtype !== dtype) a = cast(a, dtype);
  if (b.dtype !== dtype) b = cast(b, dtype);
  const shape = broadcastShapes("where", broadcastShapes("where", cond.shape, a.shape), b.shape);
  const buf = bk.where(
    cond.storage.buf,
    cond.shape,
    cond.dtype,
    a.storage.buf,
    a.shape,
    b.storage.buf,
    b.shape,
    shape,
    dtype,
    cond._layout ?? undefined,
    a._layout ?? undefined,
    b._layout ?? undefined,
  );
  const out = fromBuffer(bk, buf, shape, dtype);
  const A = a, B = b;
  return record("where", out, [A, B], (g) => [
    A._requiresGrad ? sumToShape(where(cond, g, 0), A.shape) : null,
    B._requiresGrad ? sumToShape(where(cond, 0, g), B.shape) : null,
  ]);
}

/** Whether two tensors have the same shape. */
export function sameShapeAs(a: Tensor, b: Tensor): boolean {
  return sameShape(a.shape, b.shape);
}
