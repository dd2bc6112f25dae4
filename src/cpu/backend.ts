/**
 * The CPU reference backend: each primitive defined by plain loops over typed arrays, in any
 * dtype (float64 included). It is the oracle the WebGPU backend is tested against, so clarity
 * wins over speed here. The fast paths live in files of their own: float32 matmul, exp, GELU
 * and softmax in WebAssembly SIMD (`matmul_pack.ts`, `simd_math.ts`, `simd_softmax.ts`; float32
 * arithmetic, within a few ulps of these loops, and tested against them), and the elementwise
 * ops' loops, compiled per op and dtype from the scalar functions below (`elementwise_jit.ts`;
 * exactly these functions, run monomorphic).
 *
 * Half-precision storage (`bfloat16`, `float16`) is a Uint16Array of raw bits; matmul widens
 * it to float32 while packing the SIMD kernel's panels, gather and cast widen it element by
 * element (all exact), strided copies move the bits.
 * @module
 */
import type { Backend, BinaryOp, MatmulSpec, ReduceOp, UnaryOp } from "../autograd/backend.ts";
import { type DType, dtypeOfArray, isHalf, type TypedArray } from "../autograd/dtype.ts";
import { DTypeError, ValueError } from "../autograd/errors.ts";
import { narrowToHalf, widenHalf } from "../autograd/half.ts";
import { broadcastStrides, sizeOf, stridesOf } from "../autograd/shape.ts";
import { attentionBackward, attentionForward } from "./attention.ts";
import { bufferPool } from "./buffer_pool.ts";
import { binaryLoop, unaryLoop } from "./elementwise_jit.ts";
import { matmulSimd } from "./matmul_pack.ts";
import { simdMath } from "./simd_math.ts";
import { simdMatmul } from "./simd_matmul.ts";
import { softmaxRowsF32 } from "./simd_softmax.ts";
import { rowShift } from "./softmax_shift.ts";

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
 * Creates the CPU backend. Buffers are typed arrays; freed ones it made are kept for reuse by
 * the next allocation of the same dtype and length (`buffer_pool.ts`), and every primitive
 * writes all of its output, so what a reused array held never shows.
 *
 * @example
 * ```ts
 * import { cpuBackend } from "@lossforge/core";
 * const cpu = cpuBackend(); // a fresh instance; the registered one is backendInstance("cpu")
 * const x = cpu.fromArray(new Float64Array([1, 4]));
 * const out = cpu.unary("sqrt", x, 2, "float64");
 * console.log(await cpu.read(out, "float64", 2)); // Float64Array [1, 2]
 * console.log(cpu.memory()); // { buffers: 2, bytes: 32 }
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
  const pool = bufferPool();
  const alloc = (dtype: DType, n: number): Buf => track(pool.take(dtype, n));
  const finish = (out: Buf): Buf => out;

  return {
    name: "cpu",
    fromArray(data) {
      // Half bits are stored in a Uint16Array whichever half dtype they are.
      const out = alloc(data instanceof Uint16Array ? "bfloat16" : dtypeOfArray(data), data.length);
      out.set(data);
      return out;
    },
    adopt(data) {
      return track(data);
    },
    read(buf, _dtype, size) {
      return Promise.resolve((buf as Buf).slice(0, size));
    },
    free(buf) {
      buffers--;
      bytes -= (buf as Buf).byteLength;
    },
    fill(size, value, dtype) {
      if (isHalf(dtype)) throw new DTypeError(`fill: ${dtype} buffers are made from data only`);
      return alloc(dtype, size).fill(value);
    },
    unary(op, a, size, dtype, shape, layout) {
      // out[i] = unaryFns[op](x[i]).
      const x = a as Buf;
      const out = alloc(dtype, size);
      const sm = (op === "exp" || op === "gelu") && dtype === "float32" ? simdMath() : null;
      const run = sm
        ? (src: Buf) => sm[op as "exp" | "gelu"](src as Float32Array, out as Float32Array, size)
        : (src: Buf) => unaryLoop(`unary_${op}_${dtype}`, unaryFns[op])(src, out, size);
      if (layout && shape && size > 0) {
        // A strided view: gather it into the output in logical order, then map in place.
        gatherStrided(x, out, shape, layout.strides, layout.offset);
        run(out);
      } else run(x);
      return finish(out);
    },
    binary(op, a, aShape, b, bShape, outShape, dtype, aLayout, bLayout) {
      // out[i] = f(a[..], b[..]) over the broadcast shape; int32 division truncates.
      const out = alloc(dtype, sizeOf(outShape));
      const f = dtype === "int32" && op === "div" ? intDiv : binaryFns[op];
      binaryLoop(`binary_${op}_${dtype}`, f)(
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
      const { m, k, n, transA, transB, aDtype, bDtype } = spec;
      const sm = dtype === "float32" ? simdMatmul() : null;
      // Half operands: widened while packing (SIMD), else widened once for the loop below.
      const x = aDtype && !sm ? widenHalf(a as Uint16Array, aDtype) : a as Buf;
      const y = bDtype && !sm ? widenHalf(b as Uint16Array, bDtype) : b as Buf;
      const batch = sizeOf(spec.outBatch);
      const out = alloc(dtype, batch * m * n);
      const aStr = broadcastStrides(spec.aBatch, spec.outBatch);
      const bStr = broadcastStrides(spec.bBatch, spec.outBatch);
      if (sm) {
        const aOffs: number[] = [], bOffs: number[] = [];
        forEachBroadcast(spec.outBatch, [aStr, bStr], (_i, o) => {
          aOffs.push(o[0] * m * k);
          bOffs.push(o[1] * k * n);
        });
        matmulSimd(sm, out, x, y, aOffs, bOffs, m, k, n, transA, transB, aDtype, bDtype);
        return finish(out);
      }
      // out[i, j] = Σ_p op(a)[i, p] op(b)[p, j], summed in float64 in the order of p, every
      // product computed (none skipped for a zero, so NaN and Inf propagate); the int32 store
      // truncates. op(a)[i, p] is at i·ai + p·ap, op(b)[p, j] at p·bp + j·bj.
      const [ai, ap] = transA ? [1, m] : [k, 1];
      const [bp, bj] = transB ? [1, k] : [n, 1];
      let c = 0;
      forEachBroadcast(spec.outBatch, [aStr, bStr], (_i, o) => {
        const a0 = o[0] * m * k, b0 = o[1] * k * n;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++, c++) {
            let s = 0;
            for (let p = 0, u = a0 + i * ai, v = b0 + j * bj; p < k; p++, u += ap, v += bp) {
              s += x[u] * y[v];
            }
            out[c] = s;
          }
        }
      });
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
      // Half storage: the bits are gathered, then widened (the output is float32).
      const out = isHalf(dtype)
        ? new Uint16Array(sizeOf(indexShape))
        : alloc(dtype, sizeOf(indexShape));
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
      return isHalf(dtype) ? track(widenHalf(out as Uint16Array, dtype)) : finish(out);
    },
    scatterAdd(base, shape, axis, index, src, indexShape, dtype) {
      checkIndices("scatterAdd", index as Buf, sizeOf(indexShape), shape[axis], axis);
      const out = alloc(dtype, (base as Buf).length);
      out.set(base as Buf);
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
    cast(a, size, from, to) {
      let x = a as Buf;
      // Half storage widens exactly to float32 (then converts on from there); narrowing rounds
      // to nearest even.
      if (isHalf(from)) {
        x = widenHalf(x.subarray(0, size) as Uint16Array, from);
        if (to === "float32") return track(x);
      }
      if (isHalf(to)) return track(narrowToHalf(x.subarray(0, size) as Float32Array, to));
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
      const [qb, kb, vb, m] = [q as Buf, k as Buf, v as Buf, mask as Buf | null];
      return attentionForward(qb, kb, vb, m, spec, dtype, alloc);
    },
    attentionGrad(q, k, v, mask, out, lse, g, spec, dtype) {
      const [qb, kb, vb, m] = [q as Buf, k as Buf, v as Buf, mask as Buf | null];
      return attentionBackward(qb, kb, vb, m, out as Buf, lse as Buf, g as Buf, spec, dtype, alloc);
    },
    memory() {
      return { buffers, bytes };
    },
    flush() {},
  };
}
