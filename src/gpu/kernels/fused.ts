/**
 * Fused kernels behind the optional Backend primitives: GELU's gradient, softmax's backward
 * along the last axis, and layer norm forward and backward. Each replaces a chain of
 * elementwise and reduction dispatches (GELU's backward alone takes twelve when composed) with one or two.
 * Rows run one thread each: the rows of a training step are many and short, which suits
 * both a GPU and a software adapter (workgroup trees are slow on llvmpipe).
 * @module
 */
import type { DType } from "../../autograd/dtype.ts";
import type { Engine, GpuBuffer } from "../engine.ts";
import {
  f32Arrays,
  f32Bits,
  FLOAT_MATH,
  kernelWgsl,
  params,
  WG,
  wgslType,
  workgroupReduceWgsl,
} from "./common.ts";

/** g · gelu'(x), elementwise (tanh GELU). */
export function geluGrad(e: Engine, x: GpuBuffer, g: GpuBuffer, size: number, dtype: DType) {
  wgslType("geluGrad", dtype);
  const out = e.alloc("geluGrad", size * 4);
  if (size === 0) return out;
  const k = e.kernel(
    "fused_gelu_grad",
    () =>
      kernelWgsl({
        inputs: f32Arrays("x", "g"),
        outputs: f32Arrays("o"),
        helpers: FLOAT_MATH,
        body: `let v = x[i]; let v2 = v * v;
  let c = 0.7978845608028654;
  let t = tanh_(c * (v + 0.044715 * v2 * v));
  let d = 0.5 * (1.0 + t) + 0.5 * c * v * (1.0 - t * t) * (1.0 + 3.0 * 0.044715 * v2);
  o[i] = g[i] * d;`,
      }),
    2,
    1,
  );
  const p = params();
  p[0] = size;
  e.dispatch("geluGrad", k, [x, g], [out], p, Math.ceil(size / WG));
  return out;
}

/** s ⊙ (g − Σ g ⊙ s) along the last axis of [rows, cols]. */
export function softmaxGrad(
  e: Engine,
  s: GpuBuffer,
  g: GpuBuffer,
  rows: number,
  cols: number,
  dtype: DType,
) {
  wgslType("softmaxGrad", dtype);
  const out = e.alloc("softmaxGrad", rows * cols * 4);
  if (rows * cols === 0) return out;
  const k = e.kernel(
    "fused_softmax_grad",
    () =>
      kernelWgsl({
        inputs: f32Arrays("s", "g"),
        outputs: f32Arrays("o"),
        body: `let cols = P(1); let base = i * cols;
  var dot = 0.0;
  for (var c = 0u; c < cols; c++) { dot += g[base + c] * s[base + c]; }
  for (var c = 0u; c < cols; c++) { o[base + c] = s[base + c] * (g[base + c] - dot); }`,
      }),
    2,
    1,
  );
  const p = params();
  p[0] = rows;
  p[1] = cols;
  e.dispatch("softmaxGrad", k, [s, g], [out], p, Math.ceil(rows / WG));
  return out;
}

/** Layer norm over the last axis of [rows, cols]; also mean and rstd per row. */
export function layerNorm(
  e: Engine,
  x: GpuBuffer,
  w: GpuBuffer,
  b: GpuBuffer,
  rows: number,
  cols: number,
  eps: number,
  dtype: DType,
) {
  wgslType("layerNorm", dtype);
  const y = e.alloc("layerNorm", rows * cols * 4);
  const mean = e.alloc("layerNorm", rows * 4), rstd = e.alloc("layerNorm", rows * 4);
  if (rows === 0) return { y, mean, rstd };
  const k = e.kernel(
    "fused_layer_norm",
    () =>
      kernelWgsl({
        inputs: f32Arrays("x", "w", "b"),
        outputs: f32Arrays("y", "mean", "rstd"),
        body: `let cols = P(1); let n = f32(cols); let base = i * cols;
  var sum = 0.0;
  for (var c = 0u; c < cols; c++) { sum += x[base + c]; }
  let mu = sum / n;
  var sq = 0.0;
  for (var c = 0u; c < cols; c++) { let d = x[base + c] - mu; sq += d * d; }
  let rs = 1.0 / sqrt(sq / n + Pf(2));
  for (var c = 0u; c < cols; c++) { y[base + c] = (x[base + c] - mu) * rs * w[c] + b[c]; }
  mean[i] = mu;
  rstd[i] = rs;`,
      }),
    3,
    3,
  );
  const p = params();
  p[0] = rows;
  p[1] = cols;
  p[2] = f32Bits(eps);
  e.dispatch("layerNorm", k, [x, w, b], [y, mean, rstd], p, Math.ceil(rows / WG));
  return { y, mean, rstd };
}

/** Layer norm's backward: dx per row, dw and db per column. */
export function layerNormGrad(
  e: Engine,
  g: GpuBuffer,
  x: GpuBuffer,
  w: GpuBuffer,
  mean: GpuBuffer,
  rstd: GpuBuffer,
  rows: number,
  cols: number,
  dtype: DType,
) {
  wgslType("layerNormGrad", dtype);
  const dx = e.alloc("layerNormGrad", rows * cols * 4);
  const dw = e.alloc("layerNormGrad", cols * 4), db = e.alloc("layerNormGrad", cols * 4);
  const p = params();
  p[0] = rows;
  p[1] = cols;
  if (rows > 0) {
    const kx = e.kernel(
      "fused_layer_norm_dx",
      () =>
        kernelWgsl({
          inputs: f32Arrays("g", "x", "w", "mean", "rstd"),
          outputs: f32Arrays("dx"),
          body: `let cols = P(1); let n = f32(cols); let base = i * cols;
  let mu = mean[i]; let rs = rstd[i];
  var m1 = 0.0; var m2 = 0.0;
  for (var c = 0u; c < cols; c++) {
    let gh = g[base + c] * w[c];
    m1 += gh;
    m2 += gh * (x[base + c] - mu) * rs;
  }
  m1 = m1 / n; m2 = m2 / n;
  for (var c = 0u; c < cols; c++) {
    let xh = (x[base + c] - mu) * rs;
    dx[base + c] = rs * (g[base + c] * w[c] - m1 - xh * m2);
  }`,
        }),
      5,
      1,
    );
    e.dispatch("layerNormGrad", kx, [g, x, w, mean, rstd], [dx], p, Math.ceil(rows / WG));
  }
  if (cols > 0) {
    const kw = e.kernel(
      "fused_layer_norm_dw",
      () =>
        kernelWgsl({
          inputs: f32Arrays("g", "x", "mean", "rstd"),
          outputs: f32Arrays("dw", "db"),
          count: "P(1)",
          body: `let cols = P(1);
  var sw = 0.0; var sb = 0.0;
  for (var r = 0u; r < P(0); r++) {
    let gv = g[r * cols + i];
    sw += gv * (x[r * cols + i] - mean[r]) * rstd[r];
    sb += gv;
  }
  dw[i] = sw;
  db[i] = sb;`,
        }),
      4,
      2,
    );
    e.dispatch("layerNormGrad", kw, [g, x, mean, rstd], [dw, db], p, Math.ceil(cols / WG));
  }
  return { dx, dw, db };
}

/** Threads per workgroup of the sum-of-squares kernels. */
const SUMSQ_WG = 256;
/** Elements per workgroup (at most) before a tensor gets more workgroups. */
const SUMSQ_PER_GROUP = 65536;

/**
 * Σ over every buffer of Σ x² as one float: one dispatch per buffer (its workgroups each
 * write one partial sum, 256 threads striding over their share) and one that adds the
 * partials — instead of a square, a sum and an add per tensor (gradient clipping's norm).
 */
export function sumOfSquares(
  e: Engine,
  bufs: readonly GpuBuffer[],
  sizes: readonly number[],
  dtype: DType,
): GpuBuffer {
  wgslType("sumOfSquares", dtype);
  const groups = sizes.map((n) => Math.min(256, Math.max(1, Math.ceil(n / SUMSQ_PER_GROUP))));
  const slots = groups.reduce((a, b) => a + b, 0);
  const partial = e.alloc("sumOfSquares", Math.max(1, slots) * 4);
  const out = e.alloc("sumOfSquares", 4);
  const partSums = `var<workgroup> partSums: array<f32, ${SUMSQ_WG}>;`;
  const reduceTail = `
  ${workgroupReduceWgsl("partSums", "acc", (a, b) => `${a} + ${b}`, SUMSQ_WG)}`;
  const part = e.kernel(
    "fused_sumsq_partial",
    () =>
      kernelWgsl({
        inputs: f32Arrays("x"),
        outputs: f32Arrays("partial"),
        helpers: partSums,
        grid: "free",
        threads: SUMSQ_WG,
        body: `let n = P(0u);
  var acc = 0.0;
  for (var i = wid.x * ${SUMSQ_WG}u + lid; i < n; i += nwg.x * ${SUMSQ_WG}u) {
    let v = x[i];
    acc += v * v;
  }${reduceTail}
  if (lid == 0u) { partial[P(1u) + wid.x] = partSums[0]; }`,
      }),
    1,
    1,
  );
  let slot = 0;
  for (let i = 0; i < bufs.length; i++) {
    const p = params();
    p[0] = sizes[i];
    p[1] = slot;
    e.dispatch("sumOfSquares", part, [bufs[i]], [partial], p, groups[i]);
    slot += groups[i];
  }
  const total = e.kernel(
    "fused_sumsq_total",
    () =>
      kernelWgsl({
        inputs: f32Arrays("partial"),
        outputs: f32Arrays("o"),
        helpers: partSums,
        grid: "free",
        threads: SUMSQ_WG,
        body: `let n = P(0u);
  var acc = 0.0;
  for (var i = lid; i < n; i += ${SUMSQ_WG}u) { acc += partial[i]; }${reduceTail}
  if (lid == 0u) { o[0] = partSums[0]; }`,
      }),
    1,
    1,
  );
  const p = params();
  p[0] = slots;
  e.dispatch("sumOfSquares", total, [partial], [out], p, 1);
  e.release(partial);
  return out;
}
