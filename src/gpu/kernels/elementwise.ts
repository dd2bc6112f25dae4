/**
 * Elementwise kernels: fill, unary, broadcast binary, where, cast. Broadcasting passes the
 * collapsed output shape and each input's strides (0 on broadcast axes; a strided view's own
 * strides otherwise) and element offset in the params block, so transposed, permuted,
 * expanded and sliced views are read in place.
 * @module
 */
import type { BinaryOp, Layout, UnaryOp } from "../../autograd/backend.ts";
import type { DType } from "../../autograd/dtype.ts";
import { broadcastStrides, sameShape, sizeOf } from "../../autograd/shape.ts";
import { BackendError } from "../../autograd/errors.ts";
import type { BindingWindow, Engine, GpuBuffer, Kernel } from "../engine.ts";
import {
  checkRank,
  collapse,
  f32Bits,
  FLOAT_MATH,
  kernelWgsl,
  offsetsWgsl,
  params,
  putWords,
  WG,
  wgslType,
} from "./common.ts";

/** Fills of at most this many elements are uploads rather than dispatches. */
const SMALL_FILL = 1024;

/**
 * Dispatches a flat elementwise kernel (`i` from 0 to `p[0]`, reading input k at
 * `p[offsetWord + k] + i * stride_k` with stride 0 or 1, writing `o[i]`) over `n` elements,
 * in windows of the buffers when one exceeds the binding limit: each window of the output
 * and of the stride-1 inputs starts at an aligned offset (the remainder goes into the offset
 * words); stride-0 inputs are bound whole. Without `offsetWord` the inputs have offset 0.
 */
function dispatchFlat(
  e: Engine,
  op: string,
  k: Kernel,
  inputs: readonly GpuBuffer[],
  strides: readonly number[],
  out: GpuBuffer,
  p: Uint32Array,
  n: number,
  offsetWord?: number,
): void {
  const limit = e.maxStorageBinding;
  const big = out.byteLength > limit ||
    inputs.some((b, i) => strides[i] !== 0 && b.byteLength > limit);
  if (!big || strides.some((st) => st > 1)) {
    e.dispatch(op, k, inputs, [out], p, Math.ceil(n / WG));
    return;
  }
  const align = e.storageAlign / 4;
  const per = Math.floor((limit / 4 - align) / align) * align;
  if (per < 1) throw new BackendError(`${op}: maxStorageBufferBindingSize ${limit} is too small`);
  const offsets = inputs.map((_, i) => (offsetWord === undefined ? 0 : p[offsetWord + i]));
  for (let w0 = 0; w0 < n; w0 += per) {
    const len = Math.min(per, n - w0);
    const q = p.slice();
    q[0] = len;
    const windows: (BindingWindow | undefined)[] = inputs.map((_, i) => {
      if (strides[i] === 0) return undefined;
      const start = offsets[i] + w0;
      const at = Math.floor(start / align) * align;
      if (offsetWord !== undefined) q[offsetWord + i] = start - at;
      return [at * 4, (start - at + len) * 4];
    });
    windows.push([w0 * 4, len * 4]);
    e.dispatch(op, k, inputs, [out], q, Math.ceil(len / WG), windows);
  }
}

/** The kernel `key` that maps `a` (of WGSL type `from`) to `o` (`to`) with `body`. */
function mapKernel(
  e: Engine,
  key: string,
  from: string,
  to: string,
  body: string,
  helpers = FLOAT_MATH,
): Kernel {
  return e.kernel(
    key,
    () => kernelWgsl({ inputs: [["a", from]], outputs: [["o", to]], helpers, body }),
    1,
    1,
  );
}

/** `out[i] = f(a[i])` for the `size` elements of a one-input flat kernel `k`; returns `out`. */
function mapFlat(
  e: Engine,
  op: string,
  k: Kernel,
  a: GpuBuffer,
  out: GpuBuffer,
  size: number,
): GpuBuffer {
  const p = params();
  p[0] = size;
  dispatchFlat(e, op, k, [a], [1], out, p, size);
  return out;
}

/** `size` copies of `value` (stored as raw bits, so one kernel serves every dtype). */
export function fill(e: Engine, size: number, value: number, dtype: DType): GpuBuffer {
  const t = wgslType("fill", dtype);
  if (size <= SMALL_FILL) {
    // Scalars (x.add(1), loss seeds) are uploaded with writeBuffer, which costs no dispatch.
    const data = t === "f32" ? new Float32Array(size) : new Int32Array(size);
    return e.upload("fill", data.fill(value));
  }
  const out = e.alloc("fill", size * 4);
  const k = e.kernel(
    "fill",
    () => kernelWgsl({ inputs: [], outputs: [["o", "u32"]], body: "o[i] = P(1);" }),
    0,
    1,
  );
  const p = params();
  p[0] = size;
  p[1] = t === "f32" ? f32Bits(value) : (value | 0) >>> 0;
  dispatchFlat(e, "fill", k, [], [], out, p, size);
  return out;
}

/** A copy of the first `size` elements (dtype-agnostic). */
export function copy(e: Engine, op: string, a: GpuBuffer, size: number): GpuBuffer {
  const out = e.alloc(op, size * 4);
  if (size === 0) return out;
  return mapFlat(e, op, mapKernel(e, "copy", "u32", "u32", "o[i] = a[i];", ""), a, out, size);
}

const FLOAT_UNARY: Record<UnaryOp, string> = {
  neg: "-x",
  exp: "exp_(x)",
  log: "log_(x)",
  sqrt: "sqrt_(x)",
  rsqrt: "rsqrt_(x)",
  abs: "abs(x)",
  sign: "select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0)",
  tanh: "tanh_(x)",
  sigmoid: "sigmoid_(x)",
  relu: "select(0.0, x, x > 0.0)",
  gelu: "gelu_(x)",
  silu: "x * sigmoid_(x)",
  sin: "sin_(x)",
  cos: "cos_(x)",
  square: "x * x",
  recip: "1.0 / x",
  step: "select(0.0, 1.0, x > 0.0)",
  floor: "floor(x)",
};

/** int32 forms; ops without one go through float32 and JavaScript's ToInt32, as on the CPU. */
const INT_UNARY: Partial<Record<UnaryOp, string>> = {
  neg: "-x",
  abs: "abs(x)",
  sign: "sign(x)",
  relu: "max(x, 0)",
  square: "x * x",
  step: "select(0, 1, x > 0)",
  floor: "x",
};

/**
 * out[i] = op(a[i]). Every float op maps NaN to NaN, as the CPU oracle does. With `layout`,
 * `a` is a strided view of `shape`, read in place.
 */
export function unary(
  e: Engine,
  op: UnaryOp,
  a: GpuBuffer,
  size: number,
  dtype: DType,
  shape?: readonly number[],
  layout?: Layout,
): GpuBuffer {
  const t = wgslType(op, dtype);
  const out = e.alloc(op, size * 4);
  if (size === 0) return out;
  const expr = t === "f32"
    ? `select(${FLOAT_UNARY[op]}, x, is_nan(x))`
    : INT_UNARY[op] ?? `f2i(${FLOAT_UNARY[op].replace(/\bx\b/g, "xf")})`;
  if (layout && shape) {
    const ks = mapKernel(
      e,
      `unary_${op}_${t}_strided`,
      t,
      t,
      `${offsetsWgsl(1, 2, [10])}
  let x = a[P(${OFFSETS}u) + off0];
  let xf = f32(x);
  o[i] = ${expr};`,
    );
    const p = broadcastParams(op, shape, [shape], [layout]);
    e.dispatch(op, ks, [a], [out], p, Math.ceil(size / WG));
    return out;
  }
  const k = mapKernel(
    e,
    `unary_${op}_${t}`,
    t,
    t,
    `let x = a[i];
  let xf = f32(x);
  o[i] = ${expr};`,
  );
  return mapFlat(e, op, k, a, out, size);
}

const FLOAT_BINARY: Record<BinaryOp, string> = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "x / y",
  pow: "pow_(x, y)",
  maximum: "max_(x, y)",
  minimum: "min_(x, y)",
  // Comparisons with NaN are false (ne: true), tested on the bits to be safe from fast-math.
  eq: "select(0.0, 1.0, !is_nan(x) && !is_nan(y) && x == y)",
  ne: "select(1.0, 0.0, !is_nan(x) && !is_nan(y) && x == y)",
  lt: "select(0.0, 1.0, !is_nan(x) && !is_nan(y) && x < y)",
  le: "select(0.0, 1.0, !is_nan(x) && !is_nan(y) && x <= y)",
  gt: "select(0.0, 1.0, !is_nan(x) && !is_nan(y) && x > y)",
  ge: "select(0.0, 1.0, !is_nan(x) && !is_nan(y) && x >= y)",
};

const INT_BINARY: Record<BinaryOp, string> = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  // Truncating division; division by zero gives 0 (the CPU backend's rule).
  div: "select(x / y, 0, y == 0)",
  pow: "ipow(x, y)",
  maximum: "max(x, y)",
  minimum: "min(x, y)",
  eq: "select(0, 1, x == y)",
  ne: "select(0, 1, x != y)",
  lt: "select(0, 1, x < y)",
  le: "select(0, 1, x <= y)",
  gt: "select(0, 1, x > y)",
  ge: "select(0, 1, x >= y)",
};

/** Where the broadcast kernels' per-input element offsets start in the params block. */
const OFFSETS = 34;

/**
 * Params layout of the broadcast kernels: [n, rank, shape x8, strides_k x8 ..., offset_k at
 * word 34 + k]. Input k is read through `layouts[k]` when given (a strided view).
 */
function broadcastParams(
  op: string,
  outShape: readonly number[],
  inShapes: readonly (readonly number[])[],
  layouts: readonly (Layout | undefined)[] = [],
): Uint32Array {
  const c = collapse(
    outShape,
    inShapes.map((s, k) => broadcastStrides(s, outShape, layouts[k]?.strides)),
  );
  checkRank(op, c.shape, outShape);
  const p = params();
  p[0] = sizeOf(outShape);
  p[1] = c.shape.length;
  putWords(p, 2, c.shape, 8);
  c.strides.forEach((st, k) => putWords(p, 10 + 8 * k, st, 8));
  inShapes.forEach((_, k) => (p[OFFSETS + k] = layouts[k]?.offset ?? 0));
  return p;
}

/** Params of two contiguous same-shape operands of `n` elements: one axis, strides 1. */
function flatParams(n: number): Uint32Array {
  const p = params();
  p[0] = n;
  p[1] = 1;
  p[2] = n;
  p[10] = 1;
  p[18] = 1;
  return p;
}

/** out = op(a, b) with NumPy broadcasting. */
export function binary(
  e: Engine,
  op: BinaryOp,
  a: GpuBuffer,
  aShape: readonly number[],
  b: GpuBuffer,
  bShape: readonly number[],
  outShape: readonly number[],
  dtype: DType,
  aLayout?: Layout,
  bLayout?: Layout,
): GpuBuffer {
  const t = wgslType(op, dtype);
  const n = sizeOf(outShape);
  const out = e.alloc(op, n * 4);
  if (n === 0) return out;
  const expr = t === "f32" ? FLOAT_BINARY[op] : INT_BINARY[op];
  // The common case, two contiguous operands of the output's shape, skips the broadcast
  // analysis (a measurable share of the per-op cost of small ops).
  const same = !aLayout && !bLayout && sameShape(aShape, outShape) && sameShape(bShape, outShape);
  const p = same
    ? flatParams(n)
    : broadcastParams(op, outShape, [aShape, bShape], [aLayout, bLayout]);
  // Same-shape and scalar operands collapse to one axis with strides 1 or 0: index directly,
  // without the per-axis divisions of the general broadcast path.
  const flat = p[1] === 1;
  const index = flat ? "let off0 = i * P(10); let off1 = i * P(18);" : offsetsWgsl(1, 2, [10, 18]);
  const k = e.kernel(
    flat ? `binary_${op}_${t}_flat` : `binary_${op}_${t}`,
    () =>
      kernelWgsl({
        inputs: [["a", t], ["b", t]],
        outputs: [["o", t]],
        helpers: FLOAT_MATH,
        body: `${index}
  let x = a[P(${OFFSETS}u) + off0];
  let y = b[P(${OFFSETS + 1}u) + off1];
  o[i] = ${expr};`,
      }),
    2,
    1,
  );
  if (flat) dispatchFlat(e, op, k, [a, b], [p[10], p[18]], out, p, n, OFFSETS);
  else e.dispatch(op, k, [a, b], [out], p, Math.ceil(n / WG));
  return out;
}

/** out = cond != 0 ? a : b, broadcast; values move as raw bits (any 4-byte dtype). */
export function where(
  e: Engine,
  cond: GpuBuffer,
  condShape: readonly number[],
  condDtype: DType,
  a: GpuBuffer,
  aShape: readonly number[],
  b: GpuBuffer,
  bShape: readonly number[],
  outShape: readonly number[],
  dtype: DType,
  condLayout?: Layout,
  aLayout?: Layout,
  bLayout?: Layout,
): GpuBuffer {
  wgslType("where", dtype);
  const ct = wgslType("where", condDtype);
  const n = sizeOf(outShape);
  const out = e.alloc("where", n * 4);
  if (n === 0) return out;
  // A float condition is "true" unless it is ±0 (NaN counts as true, as `NaN !== 0` in JS).
  const mask = ct === "f32" ? "0x7fffffffu" : "0xffffffffu";
  const k = e.kernel(
    `where_${ct}`,
    () =>
      kernelWgsl({
        inputs: [["c", "u32"], ["a", "u32"], ["b", "u32"]],
        outputs: [["o", "u32"]],
        body: `${offsetsWgsl(1, 2, [10, 18, 26])}
  let o0 = P(${OFFSETS}u) + off0;
  let o1 = P(${OFFSETS + 1}u) + off1;
  let o2 = P(${OFFSETS + 2}u) + off2;
  o[i] = select(b[o2], a[o1], (c[o0] & ${mask}) != 0u);`,
      }),
    3,
    1,
  );
  const p = broadcastParams("where", outShape, [condShape, aShape, bShape], [
    condLayout,
    aLayout,
    bLayout,
  ]);
  e.dispatch("where", k, [cond, a, b], [out], p, Math.ceil(n / WG));
  return out;
}

/** Converts dtype: float to int truncates toward zero with JavaScript's ToInt32 wrapping. */
export function cast(e: Engine, a: GpuBuffer, size: number, from: DType, to: DType): GpuBuffer {
  const f = wgslType("cast", from), t = wgslType("cast", to);
  if (f === t) return copy(e, "cast", a, size);
  const out = e.alloc("cast", size * 4);
  if (size === 0) return out;
  const k = mapKernel(
    e,
    `cast_${f}_${t}`,
    f,
    t,
    `o[i] = ${t === "i32" ? "f2i(a[i])" : "f32(a[i])"};`,
  );
  return mapFlat(e, "cast", k, a, out, size);
}
