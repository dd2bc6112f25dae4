/**
 * The CPU reference backend: every primitive as plain loops over typed arrays. It is the
 * oracle the WebGPU backend is tested against, so clarity wins over speed here, except in
 * matmul, which training on a CPU machine leans on.
 * @module
 */
import type { Backend, BinaryOp, MatmulSpec, ReduceOp, UnaryOp } from "../autograd/backend.ts";
import { allocArray, type DType, type TypedArray } from "../autograd/dtype.ts";
import { broadcastStrides, sizeOf, stridesOf } from "../autograd/shape.ts";

type Buf = TypedArray;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** tanh-approximated GELU, as GPT-2 uses. */
export function geluScalar(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
}

function sigmoidScalar(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

const unaryFns: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
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

/** One loop per op (its own closure), so the JIT can inline the scalar function. */
function makeUnaryKernel(f: (x: number) => number): (x: Buf, out: Buf, n: number) => void {
  return (x, out, n) => {
    for (let i = 0; i < n; i++) out[i] = f(x[i]);
  };
}

const unaryKernels = Object.fromEntries(
  Object.entries(unaryFns).map(([op, f]) => [op, makeUnaryKernel(f)]),
) as Record<UnaryOp, (x: Buf, out: Buf, n: number) => void>;

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
  y: Buf,
  yStrides: number[],
  out: Buf,
  outShape: readonly number[],
) => void;

/**
 * Builds a broadcasting loop for one scalar function. Each op gets its own closure so the
 * JIT sees a single callee per loop and can inline it; the loop runs rows of the last axis
 * so the common cases (same shape, scalar operand, bias over rows) stay tight.
 */
function makeBinaryKernel(f: (a: number, b: number) => number): BinaryKernel {
  return (x, xs, y, ys, out, outShape) => {
    const n = out.length;
    const rank = outShape.length;
    if (n === 0) return;
    const contiguous = (st: number[]) => {
      let acc = 1;
      for (let d = rank - 1; d >= 0; d--) {
        if (outShape[d] !== 1 && st[d] !== acc) return false;
        acc *= outShape[d];
      }
      return true;
    };
    const scalar = (st: number[]) => st.every((v) => v === 0);
    if (contiguous(xs) && contiguous(ys)) {
      for (let i = 0; i < n; i++) out[i] = f(x[i], y[i]);
      return;
    }
    if (contiguous(xs) && scalar(ys)) {
      const v = y[0];
      for (let i = 0; i < n; i++) out[i] = f(x[i], v);
      return;
    }
    if (scalar(xs) && contiguous(ys)) {
      const v = x[0];
      for (let i = 0; i < n; i++) out[i] = f(v, y[i]);
      return;
    }
    const len = rank ? outShape[rank - 1] : 1;
    const sx = rank ? xs[rank - 1] : 0, sy = rank ? ys[rank - 1] : 0;
    const rows = n / len;
    const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
    let ox = 0, oy = 0;
    for (let r = 0; r < rows; r++) {
      const base = r * len;
      for (let j = 0; j < len; j++) out[base + j] = f(x[ox + j * sx], y[oy + j * sy]);
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

const binaryKernels = Object.fromEntries(
  Object.entries(binaryFns).map(([op, f]) => [op, makeBinaryKernel(f)]),
) as Record<BinaryOp, BinaryKernel>;
const intDivKernel = makeBinaryKernel(intDiv);

/** Calls `f(outIndex, ...inputOffsets)` for every element of `outShape`, with broadcasting. */
function forEachBroadcast(
  outShape: readonly number[],
  inStrides: readonly (readonly number[])[],
  f: (i: number, offsets: number[]) => void,
): void {
  const n = sizeOf(outShape);
  const rank = outShape.length;
  const idx = new Array<number>(rank).fill(0);
  const offs = inStrides.map(() => 0);
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

/** Splits a shape around `axis` into (outer, length, inner) for axis-wise loops. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

function matmulInto(
  out: Buf,
  outOff: number,
  a: Buf,
  aOff: number,
  b: Buf,
  bOff: number,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): void {
  // Loop orders chosen so the innermost loop walks memory contiguously in every layout;
  // accumulation is in float64 whatever the dtype.
  if (transB && !transA) {
    // out[i, j] = a[i, :] · b[j, :]: two contiguous rows.
    for (let i = 0; i < m; i++) {
      const ai = aOff + i * k;
      for (let j = 0; j < n; j++) {
        const bj = bOff + j * k;
        let s0 = 0, s1 = 0;
        let p = 0;
        for (; p + 1 < k; p += 2) {
          s0 += a[ai + p] * b[bj + p];
          s1 += a[ai + p + 1] * b[bj + p + 1];
        }
        if (p < k) s0 += a[ai + p] * b[bj + p];
        out[outOff + i * n + j] = s0 + s1;
      }
    }
    return;
  }
  if (transA && transB) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[aOff + p * m + i] * b[bOff + j * k + p];
        out[outOff + i * n + j] = s;
      }
    }
    return;
  }
  // out[i, :] = Σ_p a(i, p) · b[p, :] with a(i, p) = a[i, p] or a[p, i]: one float64 row
  // accumulator, rows of b streamed contiguously.
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const av = transA ? a[aOff + p * m + i] : a[aOff + i * k + p];
      if (av === 0) continue;
      const bp = bOff + p * n;
      for (let j = 0; j < n; j++) row[j] += av * b[bp + j];
    }
    const oi = outOff + i * n;
    for (let j = 0; j < n; j++) out[oi + j] = row[j];
  }
}

function hasNonFinite(a: Buf): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return true;
  return false;
}

function matmulNaive(
  out: Buf,
  outOff: number,
  a: Buf,
  aOff: number,
  b: Buf,
  bOff: number,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        s += (transA ? a[aOff + p * m + i] : a[aOff + i * k + p]) *
          (transB ? b[bOff + j * k + p] : b[bOff + p * n + j]);
      }
      out[outOff + i * n + j] = s;
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
    unary(op, a, size, dtype) {
      const x = a as Buf;
      const out = alloc(dtype, size);
      unaryKernels[op](x, out, size);
      return finish(out);
    },
    binary(op, a, aShape, b, bShape, outShape, dtype) {
      const out = alloc(dtype, sizeOf(outShape));
      const kernel = dtype === "int32" && op === "div" ? intDivKernel : binaryKernels[op];
      kernel(
        a as Buf,
        broadcastStrides(aShape, outShape),
        b as Buf,
        broadcastStrides(bShape, outShape),
        out,
        outShape,
      );
      return finish(out);
    },
    where(cond, condShape, _condDtype, a, aShape, b, bShape, outShape, dtype) {
      const c = cond as Buf, x = a as Buf, y = b as Buf;
      const out = alloc(dtype, sizeOf(outShape));
      forEachBroadcast(
        outShape,
        [
          broadcastStrides(condShape, outShape),
          broadcastStrides(aShape, outShape),
          broadcastStrides(bShape, outShape),
        ],
        (i, o) => {
          out[i] = c[o[0]] !== 0 ? x[o[1]] : y[o[2]];
        },
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
      // The fast kernel skips zeros in `a`, which would drop NaN * 0; non-finite inputs take
      // the plain triple loop so NaN and Inf propagate exactly as the definition says.
      const kernel = hasNonFinite(x) || hasNonFinite(y) ? matmulNaive : matmulInto;
      let bi = 0;
      forEachBroadcast(spec.outBatch, [aStr, bStr], (_i, o) => {
        kernel(out, bi * m * n, x, o[0] * m * k, y, o[1] * k * n, m, k, n, transA, transB);
        bi++;
      });
      if (dtype === "int32") { for (let i = 0; i < out.length; i++) out[i] = Math.trunc(out[i]); }
      return finish(out);
    },
    strided(a, outShape, strides, offset, dtype) {
      const x = a as Buf;
      const out = alloc(dtype, sizeOf(outShape));
      forEachBroadcast(outShape, [strides], (i, o) => {
        out[i] = x[offset + o[0]];
      });
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
      const e = new Float64Array(len);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * len * inner + i;
          let mx = -Infinity;
          for (let k = 0; k < len; k++) {
            const v = x[base + k * inner];
            if (v > mx || v !== v) mx = v;
          }
          // A row of -Infinity would give -Inf - -Inf = NaN; shift it by 0 instead.
          if (mx === -Infinity) mx = 0;
          let s = 0;
          for (let k = 0; k < len; k++) s += e[k] = Math.exp(x[base + k * inner] - mx);
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
    memory() {
      return { buffers, bytes };
    },
    flush() {},
  };
}
