/**
 * The CPU reference backend: every primitive as plain loops over typed arrays. It is the
 * oracle the WebGPU backend is tested against, so clarity wins over speed here, except in
 * matmul, which training on a CPU machine leans on.
 * @module
 */
import type { Backend, BinaryOp, MatmulSpec, ReduceOp, UnaryOp } from "../autograd/backend.ts";
import { allocArray, type DType, type TypedArray } from "../autograd/dtype.ts";
import { ValueError } from "../autograd/errors.ts";
import { broadcastStrides, sizeOf, stridesOf } from "../autograd/shape.ts";
import { type SimdMatmul, simdMatmul } from "./simd_matmul.ts";
import { runPanels } from "./matmul_pool.ts";
import { attentionBackward, attentionForward } from "./attention.ts";
import { type SimdMath, simdMath } from "./simd_math.ts";

type Buf = TypedArray;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** tanh-approximated GELU, as GPT-2 uses. */
export function geluScalar(x: number): number {
  // 0.5 x (1 + tanh u) written as x / (1 + e^(-2u)): one exp instead of Math.tanh (twice as
  // slow in V8), and the same form as the WGSL kernel.
  return x / (1 + Math.exp(-2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

/**
 * Math.exp, except that arguments below -746 (where it underflows to 0 anyway) return 0 at
 * once: V8 takes a slow path for them (80 ns against 10), and masked attention scores of -1e9
 * hit it for half of every softmax.
 */
function expScalar(x: number): number {
  return x < -746 ? 0 : Math.exp(x);
}

function sigmoidScalar(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

const unaryFns: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: expScalar,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : NaN),
  tanh: Math.tanh,
  sigmoid: sigmoidScalar,
  relu: (x) => (x > 0 ? x : x === x ? 0 : NaN),
  gelu: geluScalar,
  silu: (x) => x * sigmoidScalar(x),
  sin: Math.sin,
  cos: Math.cos,
  square: (x) => x * x,
  recip: (x) => 1 / x,
  step: (x) => (x > 0 ? 1 : x === x ? 0 : NaN),
  floor: Math.floor,
};

/**
 * Kernels are compiled per op and dtype with `new Function`: V8 shares type feedback between
 * closures made from one function literal, so a single generic loop would see every op and
 * every typed-array kind and run megamorphic (measured 10 ms against 1 ms for a float32
 * multiply of 786k elements). Each generated loop sees one callee and one array kind.
 */
function compile<T>(name: string, params: string[], body: string, ...bound: unknown[]): T {
  const names = bound.map((_, i) => `f${i}`);
  const make = new Function(
    ...names,
    `return function ${name}(${params.join(", ")}) {\n${body}\n};`,
  );
  return make(...bound) as T;
}

type UnaryKernel = (x: Buf, out: Buf, n: number) => void;

const unaryCache = new Map<string, UnaryKernel>();

function unaryKernel(op: UnaryOp, dtype: DType): UnaryKernel {
  const key = `${op}:${dtype}`;
  let k = unaryCache.get(key);
  if (!k) {
    k = compile<UnaryKernel>(
      `unary_${op}_${dtype}`,
      ["x", "out", "n"],
      "for (let i = 0; i < n; i++) out[i] = f0(x[i]);",
      unaryFns[op],
    );
    unaryCache.set(key, k);
  }
  return k;
}

function nanAware(f: (a: number, b: number) => number) {
  return (a: number, b: number) => (a !== a || b !== b ? NaN : f(a, b));
}

const binaryFns: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: nanAware(Math.max),
  minimum: nanAware(Math.min),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

function intDiv(a: number, b: number): number {
  return b === 0 ? 0 : Math.trunc(a / b);
}

type BinaryKernel = (
  x: Buf,
  xStrides: number[],
  xOffset: number,
  y: Buf,
  yStrides: number[],
  yOffset: number,
  out: Buf,
  outShape: readonly number[],
) => void;

function isContiguous(st: readonly number[], shape: readonly number[]): boolean {
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && st[d] !== acc) return false;
    acc *= shape[d];
  }
  return true;
}

function isScalar(st: readonly number[]): boolean {
  return st.every((v) => v === 0);
}

/**
 * Builds a broadcasting loop for one scalar function (compiled per op and dtype, see
 * `compile`); the loop runs rows of the last axis so the common cases (same shape, scalar
 * operand, bias over rows) stay tight.
 */
function makeBinaryKernel(name: string, f: (a: number, b: number) => number): BinaryKernel {
  const same = compile<(x: Buf, y: Buf, out: Buf, n: number) => void>(
    `${name}_same`,
    ["x", "y", "out", "n"],
    "for (let i = 0; i < n; i++) out[i] = f0(x[i], y[i]);",
    f,
  );
  const right = compile<(x: Buf, v: number, out: Buf, n: number) => void>(
    `${name}_scalar_b`,
    ["x", "v", "out", "n"],
    "for (let i = 0; i < n; i++) out[i] = f0(x[i], v);",
    f,
  );
  const left = compile<(v: number, y: Buf, out: Buf, n: number) => void>(
    `${name}_scalar_a`,
    ["v", "y", "out", "n"],
    "for (let i = 0; i < n; i++) out[i] = f0(v, y[i]);",
    f,
  );
  const rows = compile<
    (
      x: Buf,
      ox: number,
      sx: number,
      y: Buf,
      oy: number,
      sy: number,
      out: Buf,
      base: number,
      len: number,
    ) => void
  >(
    `${name}_row`,
    ["x", "ox", "sx", "y", "oy", "sy", "out", "base", "len"],
    "for (let j = 0; j < len; j++) out[base + j] = f0(x[ox + j * sx], y[oy + j * sy]);",
    f,
  );
  return (x, xs, x0, y, ys, y0, out, outShape) => {
    const n = out.length;
    const rank = outShape.length;
    if (n === 0) return;
    const cx = x0 === 0 && isContiguous(xs, outShape), cy = y0 === 0 && isContiguous(ys, outShape);
    if (cx && cy) return same(x, y, out, n);
    if (cx && isScalar(ys)) return right(x, y[y0], out, n);
    if (isScalar(xs) && cy) return left(x[x0], y, out, n);
    const len = rank ? outShape[rank - 1] : 1;
    const sx = rank ? xs[rank - 1] : 0, sy = rank ? ys[rank - 1] : 0;
    const nRows = n / len;
    const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
    let ox = x0, oy = y0;
    for (let r = 0; r < nRows; r++) {
      rows(x, ox, sx, y, oy, sy, out, r * len, len);
      for (let d = rank - 2; d >= 0; d--) {
        idx[d]++;
        ox += xs[d];
        oy += ys[d];
        if (idx[d] < outShape[d]) break;
        ox -= xs[d] * idx[d];
        oy -= ys[d] * idx[d];
        idx[d] = 0;
      }
    }
  };
}

const binaryCache = new Map<string, BinaryKernel>();

function binaryKernel(op: BinaryOp, dtype: DType): BinaryKernel {
  const key = `${op}:${dtype}`;
  let k = binaryCache.get(key);
  if (!k) {
    const f = dtype === "int32" && op === "div" ? intDiv : binaryFns[op];
    k = makeBinaryKernel(`binary_${op}_${dtype}`, f);
    binaryCache.set(key, k);
  }
  return k;
}

/**
 * Calls `f(outIndex, ...inputOffsets)` for every element of `outShape`, with broadcasting;
 * input k starts at `starts[k]` (default 0).
 */
function forEachBroadcast(
  outShape: readonly number[],
  inStrides: readonly (readonly number[])[],
  f: (i: number, offsets: number[]) => void,
  starts?: readonly number[],
): void {
  const n = sizeOf(outShape);
  const rank = outShape.length;
  const idx = new Array<number>(rank).fill(0);
  const offs = inStrides.map((_, k) => starts?.[k] ?? 0);
  for (let i = 0; i < n; i++) {
    f(i, offs);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      for (let k = 0; k < offs.length; k++) offs[k] += inStrides[k][d];
      if (idx[d] < outShape[d]) break;
      for (let k = 0; k < offs.length; k++) offs[k] -= inStrides[k][d] * idx[d];
      idx[d] = 0;
    }
  }
}

/** out[idx] = x[offset + Σ idx_d · strides[d]] over `outShape` in row-major order. */
function gatherStrided(
  x: Buf,
  out: Buf,
  outShape: readonly number[],
  strides: readonly number[],
  offset: number,
): void {
  const rank = outShape.length, n = out.length;
  if (n === 0) return;
  if (rank === 0) {
    out[0] = x[offset];
    return;
  }
  // Rows of the last axis, an odometer over the others (permutes and slices of
  // activations are hot in attention).
  const len = outShape[rank - 1], step = strides[rank - 1];
  const idx = new Array<number>(rank - 1).fill(0);
  let src = offset;
  for (let base = 0; base < n; base += len) {
    if (step === 1) { for (let j = 0; j < len; j++) out[base + j] = x[src + j]; }
    else for (let j = 0; j < len; j++) out[base + j] = x[src + j * step];
    for (let d = rank - 2; d >= 0; d--) {
      src += strides[d];
      if (++idx[d] < outShape[d]) break;
      src -= strides[d] * idx[d];
      idx[d] = 0;
    }
  }
}

/** Splits a shape around `axis` into (outer, length, inner) for axis-wise loops. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

/**
 * op(a) packed into panels of four rows: panel q holds rows 4q..4q+3 of op(a) (as columns
 * of the [k, 4] panel), so the micro-kernel reads it front to back. Rows past m are zeros.
 */
function packA(
  dst: Float64Array | Float32Array,
  a: Buf,
  aOff: number,
  m: number,
  k: number,
  transA: boolean,
): void {
  packPanels(dst, a, aOff, m, k, transA ? 1 : k, transA ? m : 1);
}

/** op(b) packed into panels of four columns (columns past n are zeros). */
function packB(
  dst: Float64Array | Float32Array,
  b: Buf,
  bOff: number,
  k: number,
  n: number,
  transB: boolean,
): void {
  packPanels(dst, b, bOff, n, k, transB ? k : 1, transB ? 1 : n);
}

/**
 * dst[at + ⌊r/w⌋·w·k + p·w + r mod w] = src[off + r·rs + p·ps] for r < rows, p < k (panels of
 * w rows), and zeros for the padding rows; the loop walks whichever source axis is contiguous.
 */
function packPanels(
  dst: Float64Array | Float32Array,
  src: Buf,
  off: number,
  rows: number,
  k: number,
  rs: number,
  ps: number,
  w = 4,
  at = 0,
): void {
  const padded = Math.ceil(rows / w) * w;
  const pos = (r: number) => at + Math.floor(r / w) * k * w + (r % w);
  for (let r = rows; r < padded; r++) {
    const base = pos(r);
    for (let p = 0; p < k; p++) dst[base + p * w] = 0;
  }
  if (rs === 1) {
    // Rows contiguous: walk r fastest.
    for (let p = 0; p < k; p++) {
      const s0 = off + p * ps, d0 = at + p * w;
      for (let r = 0; r < rows; r++) {
        dst[d0 + Math.floor(r / w) * k * w + (r % w)] = src[s0 + r];
      }
    }
  } else {
    for (let r = 0; r < rows; r++) {
      const base = pos(r), s0 = off + r * rs;
      for (let p = 0; p < k; p++) dst[base + p * w] = src[s0 + p * ps];
    }
  }
}

/**
 * Sizes of the SIMD matmul's work (tests lower them to exercise grouping and threads on small
 * products).
 */
export const simdMatmulLimits = {
  /**
   * Batches of at least this many multiply-adds are split among threads (a hand-off costs
   * 0.05-0.2 ms; 2²² multiply-adds take about 0.4 ms on one core).
   */
  threadedMinMacs: 1 << 22,
  /** Packed operands and outputs of one group of batch elements stay under this many bytes. */
  groupBytes: 256 << 20,
};

/**
 * A batch of float32 products through the WebAssembly SIMD kernel: op(a) packed in 4-row
 * panels and op(b) in 8-column panels into the module's memory (an operand shared by
 * consecutive batch elements, as broadcasting gives, is packed once), then every output row
 * panel of every element run by `runPanels`, split among threads when the pool is up and the
 * work is large, and the valid blocks copied out. `aOffs[i]`, `bOffs[i]`: element offsets of
 * batch element i's operands.
 */
function matmulSimd(
  sm: SimdMatmul,
  out: Buf,
  a: Buf,
  b: Buf,
  aOffs: number[],
  bOffs: number[],
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): void {
  const mP = Math.ceil(m / 4), nP = Math.ceil(n / 8);
  const apBytes = mP * k * 16, bpBytes = nP * k * 32, rowFloats = nP * 8;
  const outBytes = mP * 4 * rowFloats * 4;
  const batch = aOffs.length;
  const per = apBytes + bpBytes + outBytes + 12;
  const group = Math.max(1, Math.min(batch, Math.floor(simdMatmulLimits.groupBytes / per)));
  const pool = m * n * k * batch >= simdMatmulLimits.threadedMinMacs ? sm.pool() : null;
  for (let g0 = 0; g0 < batch; g0 += group) {
    const g1 = Math.min(batch, g0 + group), count = g1 - g0;
    // Layout: packed operands (each new one), then outputs, then the batch table.
    const table = new Int32Array(3 * count);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const bi = g0 + i;
      const newA = i === 0 || aOffs[bi] !== aOffs[bi - 1];
      const newB = i === 0 || bOffs[bi] !== bOffs[bi - 1];
      table[3 * i] = newA ? (at += apBytes) - apBytes : table[3 * i - 3];
      table[3 * i + 1] = newB ? (at += bpBytes) - bpBytes : table[3 * i - 2];
    }
    for (let i = 0; i < count; i++) table[3 * i + 2] = (at += outBytes) - outBytes;
    const tab = at;
    sm.ensure(tab + table.byteLength);
    const f = new Float32Array(sm.memory.buffer);
    new Int32Array(sm.memory.buffer, tab, table.length).set(table);
    // Pack each operand where the layout gave it a place of its own.
    for (let i = 0; i < count; i++) {
      const bi = g0 + i;
      if (i === 0 || table[3 * i] !== table[3 * i - 3]) {
        packPanels(f, a, aOffs[bi], m, k, transA ? 1 : k, transA ? m : 1, 4, table[3 * i] / 4);
      }
      if (i === 0 || table[3 * i + 1] !== table[3 * i - 2]) {
        packPanels(f, b, bOffs[bi], n, k, transB ? k : 1, transB ? 1 : n, 8, table[3 * i + 1] / 4);
      }
    }
    let alone = !pool || pool.ready() === 0;
    if (!alone) {
      try {
        pool!.run(sm.mm, sm.memory, count * mP, mP, k, nP, tab, count);
      } catch {
        alone = true; // a worker failed: its panels may be missing (the pool retires it)
      }
    }
    if (alone) runPanels(sm.mm, table, 0, count * mP, mP, k, nP);
    for (let i = 0; i < count; i++) {
      const o = table[3 * i + 2] / 4, dst = (g0 + i) * m * n;
      // Rows without padding (n a multiple of 8) are one block; else row by row.
      if (rowFloats === n) out.set(f.subarray(o, o + m * n), dst);
      else {
        for (let r = 0; r < m; r++) {
          out.set(f.subarray(o + r * rowFloats, o + r * rowFloats + n), dst + r * n);
        }
      }
    }
  }
}

/**
 * out[m, n] = op(a) op(b) from packed panels: each 4x4 block of the output is summed in 16
 * local float64 accumulators while both panels stream front to back (register blocking; the
 * packing makes every transpose combination the same loop). Every product is computed, so
 * NaN and Inf propagate exactly as the definition says.
 */
function matmulPacked(
  out: Buf,
  outOff: number,
  ap: Float64Array,
  bp: Float64Array,
  m: number,
  k: number,
  n: number,
): void {
  const k4 = k * 4;
  for (let i0 = 0; i0 < m; i0 += 4) {
    const pa0 = (i0 >> 2) * k4;
    for (let j0 = 0; j0 < n; j0 += 4) {
      let pa = pa0, pb = (j0 >> 2) * k4;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0; p < k; p++, pa += 4, pb += 4) {
        const a0 = ap[pa], a1 = ap[pa + 1], a2 = ap[pa + 2], a3 = ap[pa + 3];
        const b0 = bp[pb], b1 = bp[pb + 1], b2 = bp[pb + 2], b3 = bp[pb + 3];
        c00 += a0 * b0;
        c01 += a0 * b1;
        c02 += a0 * b2;
        c03 += a0 * b3;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c12 += a1 * b2;
        c13 += a1 * b3;
        c20 += a2 * b0;
        c21 += a2 * b1;
        c22 += a2 * b2;
        c23 += a2 * b3;
        c30 += a3 * b0;
        c31 += a3 * b1;
        c32 += a3 * b2;
        c33 += a3 * b3;
      }
      const o = outOff + i0 * n + j0;
      if (i0 + 4 <= m && j0 + 4 <= n) {
        out[o] = c00, out[o + 1] = c01, out[o + 2] = c02, out[o + 3] = c03;
        const o1 = o + n, o2 = o1 + n, o3 = o2 + n;
        out[o1] = c10, out[o1 + 1] = c11, out[o1 + 2] = c12, out[o1 + 3] = c13;
        out[o2] = c20, out[o2 + 1] = c21, out[o2 + 2] = c22, out[o2 + 3] = c23;
        out[o3] = c30, out[o3 + 1] = c31, out[o3 + 2] = c32, out[o3 + 3] = c33;
      } else {
        const c = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let r = 0; r < 4 && i0 + r < m; r++) {
          for (let q = 0; q < 4 && j0 + q < n; q++) out[o + r * n + q] = c[r * 4 + q];
        }
      }
    }
  }
}

/**
 * The shift of a stable softmax over `len` elements from `base`, `stride` apart: their maximum
 * (NaN if any is NaN), or 0 for a row of only -Infinity (whose own maximum would give
 * -Inf - -Inf = NaN).
 */
function rowShift(x: Buf, base: number, len: number, stride: number): number {
  let mx = -Infinity;
  for (let k = 0; k < len; k++) {
    const v = x[base + k * stride];
    if (v > mx || v !== v) mx = v;
  }
  return mx === -Infinity ? 0 : mx;
}

/**
 * Float32 softmax (or log-softmax) over contiguous rows with exp in WebAssembly SIMD: each
 * row's maximum is subtracted in a first pass (rows of only -Infinity are shifted by 0, as in
 * the scalar path), exp runs over the whole shifted block, and the row sums accumulate in
 * float64.
 */
function softmaxRowsF32(
  sm: SimdMath,
  x: Float32Array,
  out: Float32Array,
  rows: number,
  len: number,
  log: boolean,
): void {
  // Blocks of whole rows, about 64K elements each, so the scratch stays small and cached.
  const block = Math.max(1, Math.floor(65536 / len));
  const e = new Float32Array(Math.min(rows, block) * len);
  const mxs = new Float64Array(block);
  for (let r0 = 0; r0 < rows; r0 += block) {
    const nr = Math.min(block, rows - r0);
    for (let r = 0; r < nr; r++) {
      const o = (r0 + r) * len, eo = r * len;
      const mx = rowShift(x, o, len, 1);
      mxs[r] = mx;
      for (let k = 0; k < len; k++) e[eo + k] = x[o + k] - mx;
    }
    sm.exp(e, e, nr * len);
    for (let r = 0; r < nr; r++) {
      const o = (r0 + r) * len, eo = r * len;
      let s = 0;
      for (let k = 0; k < len; k++) s += e[eo + k];
      if (log) {
        const ls = Math.log(s) + mxs[r];
        for (let k = 0; k < len; k++) out[o + k] = x[o + k] - ls;
      } else {
        const inv = 1 / s;
        for (let k = 0; k < len; k++) out[o + k] = e[eo + k] * inv;
      }
    }
  }
}

/** Throws a ValueError naming the op, position and value of the first index out of range. */
function checkIndices(op: string, idx: Buf, n: number, size: number, axis: number): void {
  for (let i = 0; i < n; i++) {
    const j = idx[i];
    if (j < 0 || j >= size) {
      throw new ValueError(
        `${op}: index ${j} at flat position ${i} is out of range [0, ${size}) for axis ${axis}`,
      );
    }
  }
}

/**
 * Creates the CPU backend. Buffers are typed arrays; nothing is pooled.
 *
 * @example
 * ```ts
 * import { cpuBackend } from "@lossforge/core";
 * const cpu = cpuBackend();
 * console.log(cpu.name);
 * ```
 */
export function cpuBackend(): Backend {
  let buffers = 0;
  let bytes = 0;
  const track = (a: Buf): Buf => {
    buffers++;
    bytes += a.byteLength;
    return a;
  };
  const alloc = (dtype: DType, n: number): Buf => track(allocArray(dtype, n));
  const finish = (out: Buf): Buf => out;

  return {
    name: "cpu",
    fromArray(data) {
      return track(data.slice());
    },
    read(buf, _dtype, size) {
      return Promise.resolve((buf as Buf).slice(0, size));
    },
    free(buf) {
      buffers--;
      bytes -= (buf as Buf).byteLength;
    },
    fill(size, value, dtype) {
      return alloc(dtype, size).fill(value);
    },
    unary(op, a, size, dtype, shape, layout) {
      const x = a as Buf;
      const out = alloc(dtype, size);
      const sm = (op === "exp" || op === "gelu") && dtype === "float32" ? simdMath() : null;
      const run = sm
        ? (src: Buf) => sm[op as "exp" | "gelu"](src as Float32Array, out as Float32Array, size)
        : (src: Buf) => unaryKernel(op, dtype)(src, out, size);
      if (layout && shape && size > 0) {
        // A strided view: gather it into the output in logical order, then map in place.
        gatherStrided(x, out, shape, layout.strides, layout.offset);
        run(out);
      } else run(x);
      return finish(out);
    },
    binary(op, a, aShape, b, bShape, outShape, dtype, aLayout, bLayout) {
      const out = alloc(dtype, sizeOf(outShape));
      binaryKernel(op, dtype)(
        a as Buf,
        broadcastStrides(aShape, outShape, aLayout?.strides),
        aLayout?.offset ?? 0,
        b as Buf,
        broadcastStrides(bShape, outShape, bLayout?.strides),
        bLayout?.offset ?? 0,
        out,
        outShape,
      );
      return finish(out);
    },
    where(
      cond,
      condShape,
      _condDtype,
      a,
      aShape,
      b,
      bShape,
      outShape,
      dtype,
      condLayout,
      aLayout,
      bLayout,
    ) {
      const c = cond as Buf, x = a as Buf, y = b as Buf;
      const out = alloc(dtype, sizeOf(outShape));
      forEachBroadcast(
        outShape,
        [
          broadcastStrides(condShape, outShape, condLayout?.strides),
          broadcastStrides(aShape, outShape, aLayout?.strides),
          broadcastStrides(bShape, outShape, bLayout?.strides),
        ],
        (i, o) => {
          out[i] = c[o[0]] !== 0 ? x[o[1]] : y[o[2]];
        },
        [condLayout?.offset ?? 0, aLayout?.offset ?? 0, bLayout?.offset ?? 0],
      );
      return finish(out);
    },
    reduce(op: ReduceOp, a, shape, axes, dtype) {
      const x = a as Buf;
      const outShape = shape.filter((_, i) => !axes.includes(i));
      const out = alloc(dtype, sizeOf(outShape));
      const init = op === "sum" ? 0 : op === "max" ? -Infinity : Infinity;
      const acc = new Float64Array(out.length).fill(init);
      const rank = shape.length;
      const trailing = axes.length > 0 && axes.every((a, i) => a === rank - axes.length + i);
      if (trailing && op === "sum") {
        // Fast path for the common case (sum over the last axes): contiguous segments.
        const len = sizeOf(axes.map((d) => shape[d]));
        for (let o = 0; o < out.length; o++) {
          let t = 0;
          const base = o * len;
          for (let j = 0; j < len; j++) t += x[base + j];
          out[o] = t;
        }
        return finish(out);
      }
      const leading = axes.length > 0 && axes.every((a, i) => a === i);
      if (leading && op === "sum") {
        // Sum over the first axes (bias gradients): add whole rows.
        const len = out.length, rows = len === 0 ? 0 : x.length / len;
        for (let r = 0; r < rows; r++) {
          const base = r * len;
          for (let j = 0; j < len; j++) acc[j] += x[base + j];
        }
        for (let i = 0; i < len; i++) out[i] = acc[i];
        return finish(out);
      }
      // Strides that map each input element onto its output slot (reduced axes: 0).
      const outStrides = stridesOf(outShape);
      const map: number[] = [];
      let k = 0;
      for (let d = 0; d < shape.length; d++) map.push(axes.includes(d) ? 0 : outStrides[k++]);
      forEachBroadcast(shape, [map, stridesOf(shape)], (_i, o) => {
        const v = x[o[1]];
        const j = o[0];
        if (op === "sum") acc[j] += v;
        else if (v !== v || acc[j] !== acc[j]) acc[j] = NaN;
        else if (op === "max" ? v > acc[j] : v < acc[j]) acc[j] = v;
      });
      for (let i = 0; i < out.length; i++) out[i] = acc[i];
      return finish(out);
    },
    argmax(a, shape, axis, _dtype) {
      const x = a as Buf;
      const [outer, len, inner] = around(shape, axis);
      const out = alloc("int32", outer * inner);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let best = 0, bv = -Infinity;
          for (let k = 0; k < len; k++) {
            const v = x[(o * len + k) * inner + i];
            if (v > bv || (v !== v && bv === bv)) {
              bv = v;
              best = k;
            }
          }
          out[o * inner + i] = best;
        }
      }
      return out;
    },
    matmul(a, b, spec: MatmulSpec, dtype) {
      const x = a as Buf, y = b as Buf;
      const { m, k, n, transA, transB } = spec;
      const batch = sizeOf(spec.outBatch);
      const out = alloc(dtype, batch * m * n);
      const aStr = broadcastStrides(spec.aBatch, spec.outBatch);
      const bStr = broadcastStrides(spec.bBatch, spec.outBatch);
      const sm = dtype === "float32" ? simdMatmul() : null;
      if (sm) {
        const aOffs: number[] = [], bOffs: number[] = [];
        forEachBroadcast(spec.outBatch, [aStr, bStr], (_i, o) => {
          aOffs.push(o[0] * m * k);
          bOffs.push(o[1] * k * n);
        });
        matmulSimd(sm, out, x, y, aOffs, bOffs, m, k, n, transA, transB);
        return finish(out);
      }
      const ap = new Float64Array(((m + 3) >> 2) * 4 * k);
      const bp = new Float64Array(((n + 3) >> 2) * 4 * k);
      let bi = 0;
      let lastA = -1, lastB = -1;
      forEachBroadcast(spec.outBatch, [aStr, bStr], (_i, o) => {
        // Broadcast operands (the same matrix for every batch) are packed once.
        if (o[0] !== lastA) packA(ap, x, (lastA = o[0]) * m * k, m, k, transA);
        if (o[1] !== lastB) packB(bp, y, (lastB = o[1]) * k * n, k, n, transB);
        matmulPacked(out, bi * m * n, ap, bp, m, k, n);
        bi++;
      });
      if (dtype === "int32") { for (let i = 0; i < out.length; i++) out[i] = Math.trunc(out[i]); }
      return finish(out);
    },
    strided(a, outShape, strides, offset, dtype) {
      const out = alloc(dtype, sizeOf(outShape));
      gatherStrided(a as Buf, out, outShape, strides, offset);
      return finish(out);
    },
    concat(parts, axis, outShape, dtype) {
      const out = alloc(dtype, sizeOf(outShape));
      const [outer, total, inner] = around(outShape, axis);
      let start = 0;
      for (const p of parts) {
        const x = p.buf as Buf;
        const len = p.shape[axis];
        for (let o = 0; o < outer; o++) {
          const src = o * len * inner;
          const dst = (o * total + start) * inner;
          for (let j = 0; j < len * inner; j++) out[dst + j] = x[src + j];
        }
        start += len;
      }
      return finish(out);
    },
    gather(a, aShape, axis, index, indexShape, dtype) {
      const x = a as Buf, idx = index as Buf;
      checkIndices("gather", idx, sizeOf(indexShape), aShape[axis], axis);
      const out = alloc(dtype, sizeOf(indexShape));
      const aStr = stridesOf(aShape);
      const rank = indexShape.length;
      const pos = new Array<number>(rank).fill(0);
      for (let i = 0; i < out.length; i++) {
        let off = 0;
        for (let d = 0; d < rank; d++) off += (d === axis ? idx[i] : pos[d]) * aStr[d];
        out[i] = x[off];
        for (let d = rank - 1; d >= 0; d--) {
          if (++pos[d] < indexShape[d]) break;
          pos[d] = 0;
        }
      }
      return finish(out);
    },
    scatterAdd(base, shape, axis, index, src, indexShape, dtype) {
      checkIndices("scatterAdd", index as Buf, sizeOf(indexShape), shape[axis], axis);
      const out = track((base as Buf).slice());
      const idx = index as Buf, s = src as Buf;
      const oStr = stridesOf(shape);
      const rank = indexShape.length;
      const pos = new Array<number>(rank).fill(0);
      const n = sizeOf(indexShape);
      for (let i = 0; i < n; i++) {
        let off = 0;
        for (let d = 0; d < rank; d++) off += (d === axis ? idx[i] : pos[d]) * oStr[d];
        out[off] += s[i];
        for (let d = rank - 1; d >= 0; d--) {
          if (++pos[d] < indexShape[d]) break;
          pos[d] = 0;
        }
      }
      void dtype;
      return out;
    },
    softmax(a, shape, axis, log, dtype) {
      const x = a as Buf;
      const out = alloc(dtype, x.length);
      const [outer, len, inner] = around(shape, axis);
      const sm = dtype === "float32" && inner === 1 && len > 0 ? simdMath() : null;
      if (sm) {
        softmaxRowsF32(sm, x as Float32Array, out as Float32Array, outer, len, log);
        return finish(out);
      }
      const e = new Float64Array(len);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * len * inner + i;
          const mx = rowShift(x, base, len, inner);
          let s = 0;
          for (let k = 0; k < len; k++) s += e[k] = expScalar(x[base + k * inner] - mx);
          if (log) {
            const ls = Math.log(s) + mx;
            for (let k = 0; k < len; k++) out[base + k * inner] = x[base + k * inner] - ls;
          } else {
            const r = 1 / s;
            for (let k = 0; k < len; k++) out[base + k * inner] = e[k] * r;
          }
        }
      }
      return finish(out);
    },
    argsort(a, shape, descending, _dtype) {
      const x = a as Buf;
      const len = shape.length ? shape[shape.length - 1] : 1;
      const rows = len === 0 ? 0 : x.length / len;
      const out = alloc("int32", x.length);
      const order = new Array<number>(len);
      // NaN sorts as the largest value, as in NumPy and PyTorch.
      const key = (v: number) => (v !== v ? Infinity : v);
      const nan = (v: number) => (v !== v ? 1 : 0);
      for (let r = 0; r < rows; r++) {
        const base = r * len;
        for (let k = 0; k < len; k++) order[k] = k;
        order.sort((i, j) => {
          const u = x[base + i], v = x[base + j];
          let c = key(u) - key(v) || nan(u) - nan(v);
          if (c !== c) c = 0;
          if (descending) c = -c;
          return c || i - j;
        });
        for (let k = 0; k < len; k++) out[base + k] = order[k];
      }
      return out;
    },
    cumsum(a, shape, axis, reverse, dtype) {
      const x = a as Buf;
      const out = alloc(dtype, x.length);
      const [outer, len, inner] = around(shape, axis);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let s = 0;
          for (let t = 0; t < len; t++) {
            const k = reverse ? len - 1 - t : t;
            const at = (o * len + k) * inner + i;
            s += x[at];
            out[at] = s;
          }
        }
      }
      return finish(out);
    },
    cast(a, size, _from, to) {
      const x = a as Buf;
      const out = alloc(to, size);
      if (to === "int32") { for (let i = 0; i < size; i++) out[i] = Math.trunc(x[i]); }
      else for (let i = 0; i < size; i++) out[i] = x[i];
      return out;
    },
    geluGrad(a, gBuf, size, dtype) {
      const x = a as Buf, g = gBuf as Buf;
      const out = alloc(dtype, size);
      const sm = dtype === "float32" ? simdMath() : null;
      if (sm) {
        sm.geluGrad(x as Float32Array, g as Float32Array, out as Float32Array, size);
        return out;
      }
      for (let i = 0; i < size; i++) {
        const v = x[i], v2 = v * v;
        // tanh u = 1 - 2 / (e^(2u) + 1): one exp (see geluScalar).
        const t = 1 - 2 / (Math.exp(2 * SQRT_2_OVER_PI * (v + 0.044715 * v2 * v)) + 1);
        const d = 0.5 * (1 + t) + 0.5 * SQRT_2_OVER_PI * v * (1 - t * t) * (1 + 3 * 0.044715 * v2);
        out[i] = g[i] * d;
      }
      return out;
    },
    softmaxGrad(sBuf, gBuf, rows, cols, dtype) {
      const s = sBuf as Buf, g = gBuf as Buf;
      const out = alloc(dtype, rows * cols);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let dot = 0;
        for (let c = 0; c < cols; c++) dot += g[o + c] * s[o + c];
        for (let c = 0; c < cols; c++) out[o + c] = s[o + c] * (g[o + c] - dot);
      }
      return out;
    },
    layerNorm(xBuf, wBuf, bBuf, rows, cols, eps, dtype) {
      const x = xBuf as Buf, w = wBuf as Buf, b = bBuf as Buf;
      const y = alloc(dtype, rows * cols), mean = alloc(dtype, rows), rstd = alloc(dtype, rows);
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let sum = 0;
        for (let c = 0; c < cols; c++) sum += x[o + c];
        const mu = sum / cols;
        let sq = 0;
        for (let c = 0; c < cols; c++) sq += (x[o + c] - mu) * (x[o + c] - mu);
        const rs = 1 / Math.sqrt(sq / cols + eps);
        for (let c = 0; c < cols; c++) y[o + c] = (x[o + c] - mu) * rs * w[c] + b[c];
        mean[r] = mu;
        rstd[r] = rs;
      }
      return { y, mean, rstd };
    },
    layerNormGrad(gBuf, xBuf, wBuf, meanBuf, rstdBuf, rows, cols, dtype) {
      const g = gBuf as Buf, x = xBuf as Buf, w = wBuf as Buf;
      const mean = meanBuf as Buf, rstd = rstdBuf as Buf;
      const dx = alloc(dtype, rows * cols), dw = alloc(dtype, cols), db = alloc(dtype, cols);
      const aw = new Float64Array(cols), ab = new Float64Array(cols);
      for (let r = 0; r < rows; r++) {
        const o = r * cols, mu = mean[r], rs = rstd[r];
        let m1 = 0, m2 = 0;
        for (let c = 0; c < cols; c++) {
          const gh = g[o + c] * w[c], xh = (x[o + c] - mu) * rs;
          m1 += gh;
          m2 += gh * xh;
          aw[c] += g[o + c] * xh;
          ab[c] += g[o + c];
        }
        m1 /= cols;
        m2 /= cols;
        for (let c = 0; c < cols; c++) {
          const xh = (x[o + c] - mu) * rs;
          dx[o + c] = rs * (g[o + c] * w[c] - m1 - xh * m2);
        }
      }
      for (let c = 0; c < cols; c++) {
        dw[c] = aw[c];
        db[c] = ab[c];
      }
      return { dx, dw, db };
    },
    attention(q, k, v, mask, spec, dtype) {
      const r = attentionForward(q as Buf, k as Buf, v as Buf, mask as Buf | null, spec, dtype);
      return { out: track(r.out), lse: track(r.lse) };
    },
    attentionGrad(q, k, v, mask, out, lse, g, spec, dtype) {
      const [qb, kb, vb, m] = [q as Buf, k as Buf, v as Buf, mask as Buf | null];
      const r = attentionBackward(qb, kb, vb, m, out as Buf, lse as Buf, g as Buf, spec, dtype);
      return { dq: track(r.dq), dk: track(r.dk), dv: track(r.dv) };
    },
    memory() {
      return { buffers, bytes };
    },
    flush() {},
  };
}
