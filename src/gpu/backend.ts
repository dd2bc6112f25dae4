/**
 * The WebGPU backend: every primitive of the `Backend` contract as WGSL kernels
 * (`./kernels/*.ts`), run by the engine (`./engine.ts`: pool, batching, caches). float32 and
 * int32 live on the GPU; float64 exists on the cpu backend only.
 *
 * Half-precision storage (`bfloat16`, `float16`) is packed 16-bit pairs (`./kernels/half.ts`).
 * A matmul with a half operand widens it per call into a transient float32 buffer, runs the
 * float32 kernels on it and releases it right after recording (the pool hands it to the next
 * product of that size class), so only one float32 copy of one weight exists at a time.
 * @module
 */
/// <reference types="@webgpu/types" />
import type { Backend } from "../autograd/backend.ts";
import type { DType, TypedArray } from "../autograd/dtype.ts";
import { BackendError, DTypeError } from "../autograd/errors.ts";
import { acquireGpu, type GpuContext } from "./device.ts";
import { Engine, type EngineStats, GpuBuffer } from "./engine.ts";
import * as ew from "./kernels/elementwise.ts";
import { concat, strided } from "./kernels/copy.ts";
import { gather, scatterAdd } from "./kernels/gather.ts";
import { argmax, reduce } from "./kernels/reduce.ts";
import { matmul } from "./matmul/kernels.ts";
import { softmax } from "./kernels/softmax.ts";
import { argsort } from "./kernels/sort.ts";
import { cumsum } from "./kernels/scan.ts";
import * as fused from "./kernels/fused.ts";
import * as attn from "./kernels/attention.ts";
import { softwareKernels } from "./kernels/common.ts";
import * as half from "./kernels/half.ts";
import { isHalf } from "../autograd/dtype.ts";
import { sizeOf } from "../autograd/shape.ts";

/**
 * The WebGPU backend object: the `Backend` primitives plus the device, pool statistics and
 * a way to wait for the GPU.
 *
 * @example
 * ```ts
 * import { backendInstance, setBackend, tensor, type WebGpuBackend } from "@lossforge/core";
 * await setBackend("webgpu");
 * const gpu = backendInstance("webgpu") as WebGpuBackend;
 * const y = tensor([1, 2, 3]).exp(); // recorded, not yet submitted
 * await gpu.done(); // flushes and waits for the GPU (what a benchmark times)
 * console.log(gpu.context.info.description, gpu.stats().dispatches > 0); // "<the adapter>" true
 * y.dispose();
 * gpu.trim(); // frees the pool's idle buffers
 * ```
 */
export interface WebGpuBackend extends Backend {
  /** Always "webgpu". */
  readonly name: "webgpu";
  /** The device and its info. */
  readonly context: GpuContext;
  /** Pool and work counters. */
  stats(): EngineStats;
  /** Resolves once all submitted GPU work has finished (flushes first). */
  done(): Promise<void>;
  /** Destroys the pool's free buffers (live ones are untouched). */
  trim(): void;
}

/**
 * The WebGPU backend with its engine (buffer pool, batching, pipeline and bind-group
 * caches): for the library's fused kernels, its tests and benchmarks; not public.
 */
export interface EngineBackend extends WebGpuBackend {
  /** The engine behind the primitives. */
  readonly engine: Engine;
}

function buf(op: string, b: unknown): GpuBuffer {
  if (!(b instanceof GpuBuffer)) {
    throw new BackendError(
      `${op}: expected a webgpu buffer, got ${Object.prototype.toString.call(b)}`,
    );
  }
  return b;
}

function noF64(op: string, dtype: DType): void {
  if (dtype === "float64") {
    throw new DTypeError(`${op}: float64 exists on the cpu backend only, not on webgpu`);
  }
}

/**
 * Creates the WebGPU backend, engine included, on the system's adapter (throws a
 * BackendError saying what to install when there is none). The registered factory behind
 * `setBackend("webgpu")`; the public face is `webgpuBackend`.
 *
 * @example
 * ```ts
 * import { createEngineBackend } from "./backend.ts";
 * const gpu = await createEngineBackend();
 * const x = gpu.fromArray(new Float32Array([0, 1]));
 * console.log(await gpu.read(gpu.unary("exp", x, 2, "float32"), "float32", 2)); // ≈ [1, 2.7183]
 * ```
 */
export async function createEngineBackend(): Promise<EngineBackend> {
  const ctx = await acquireGpu();
  const e = new Engine(ctx);
  return {
    name: "webgpu",
    engine: e,
    context: ctx,
    stats: () => e.getStats(),
    done: () => e.done(),
    trim: () => e.trim(),
    fromArray(data: TypedArray) {
      if (data instanceof Float64Array) {
        throw new DTypeError("fromArray: float64 exists on the cpu backend only, not on webgpu");
      }
      if (data instanceof Uint16Array && data.length % 2 === 1) {
        // Half bits in whole 32-bit words (writeBuffer moves multiples of 4 bytes).
        const padded = new Uint16Array(data.length + 1);
        padded.set(data);
        return e.upload("fromArray", padded);
      }
      return e.upload("fromArray", data);
    },
    async read(b, dtype, size) {
      noF64("read", dtype);
      if (isHalf(dtype)) {
        return new Uint16Array(await e.read("read", buf("read", b), half.halfBytes(size)), 0, size);
      }
      const bytes = await e.read("read", buf("read", b), size * 4);
      return dtype === "int32" ? new Int32Array(bytes) : new Float32Array(bytes);
    },
    free(b) {
      e.release(buf("free", b));
    },
    fill(size, value, dtype) {
      return ew.fill(e, size, value, dtype);
    },
    unary(op, a, size, dtype, shape, layout) {
      return ew.unary(e, op, buf(op, a), size, dtype, shape, layout);
    },
    binary(op, a, aShape, b, bShape, outShape, dtype, aLayout, bLayout) {
      const [x, y] = [buf(op, a), buf(op, b)];
      return ew.binary(e, op, x, aShape, y, bShape, outShape, dtype, aLayout, bLayout);
    },
    where(
      cond,
      condShape,
      condDtype,
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
      return ew.where(
        e,
        buf("where", cond),
        condShape,
        condDtype,
        buf("where", a),
        aShape,
        buf("where", b),
        bShape,
        outShape,
        dtype,
        condLayout,
        aLayout,
        bLayout,
      );
    },
    reduce(op, a, shape, axes, dtype) {
      return reduce(e, op, buf(op, a), shape, axes, dtype);
    },
    argmax(a, shape, axis, dtype) {
      return argmax(e, buf("argmax", a), shape, axis, dtype);
    },
    matmul(a, b, spec, dtype) {
      let x = buf("matmul", a), y = buf("matmul", b);
      const { aDtype, bDtype, ...plain } = spec;
      if (!aDtype && !bDtype) return matmul(e, x, y, spec, dtype);
      // Half operands: widened into transient float32 buffers, released once recorded.
      if (aDtype) x = half.widenHalf(e, x, sizeOf(spec.aBatch) * spec.m * spec.k, aDtype);
      if (bDtype) y = half.widenHalf(e, y, sizeOf(spec.bBatch) * spec.k * spec.n, bDtype);
      try {
        return matmul(e, x, y, plain, dtype);
      } finally {
        if (aDtype) e.release(x);
        if (bDtype) e.release(y);
      }
    },
    strided(a, outShape, strides, offset, dtype) {
      if (isHalf(dtype)) return half.stridedHalf(e, buf("strided", a), outShape, strides, offset);
      return strided(e, buf("strided", a), outShape, strides, offset, dtype);
    },
    concat(parts, axis, outShape, dtype) {
      const ps = parts.map((p) => ({ buf: buf("concat", p.buf), shape: p.shape }));
      return concat(e, ps, axis, outShape, dtype);
    },
    gather(a, aShape, axis, index, indexShape, dtype) {
      if (isHalf(dtype)) {
        const [x, idx] = [buf("gather", a), buf("gather", index)];
        return half.gatherHalf(e, x, aShape, axis, idx, indexShape, dtype);
      }
      return gather(e, buf("gather", a), aShape, axis, buf("gather", index), indexShape, dtype);
    },
    scatterAdd(base, shape, axis, index, src, indexShape, dtype) {
      return scatterAdd(
        e,
        buf("scatterAdd", base),
        shape,
        axis,
        buf("scatterAdd", index),
        buf("scatterAdd", src),
        indexShape,
        dtype,
      );
    },
    softmax(a, shape, axis, log, dtype) {
      return softmax(e, buf("softmax", a), shape, axis, log, dtype);
    },
    argsort(a, shape, descending, dtype) {
      return argsort(e, buf("argsort", a), shape, descending, dtype);
    },
    cumsum(a, shape, axis, reverse, dtype) {
      return cumsum(e, buf("cumsum", a), shape, axis, reverse, dtype);
    },
    cast(a, size, from, to) {
      const x = buf("cast", a);
      if (isHalf(from)) {
        // Widen exactly, then convert the float32 values as any float32 cast would.
        const wide = half.widenHalf(e, x, size, from);
        if (to === "float32") return wide;
        const out = ew.cast(e, wide, size, "float32", to);
        e.release(wide);
        return out;
      }
      if (isHalf(to)) {
        if (from === "float32") return half.narrowToHalf(e, x, size, to);
        const f32 = ew.cast(e, x, size, from, "float32");
        const out = half.narrowToHalf(e, f32, size, to);
        e.release(f32);
        return out;
      }
      return ew.cast(e, x, size, from, to);
    },
    geluGrad(x, g, size, dtype) {
      return fused.geluGrad(e, buf("geluGrad", x), buf("geluGrad", g), size, dtype);
    },
    softmaxGrad(s, g, rows, cols, dtype) {
      return fused.softmaxGrad(e, buf("softmaxGrad", s), buf("softmaxGrad", g), rows, cols, dtype);
    },
    layerNorm(x, w, b, rows, cols, eps, dtype) {
      const op = "layerNorm";
      return fused.layerNorm(e, buf(op, x), buf(op, w), buf(op, b), rows, cols, eps, dtype);
    },
    layerNormGrad(g, x, w, mean, rstd, rows, cols, dtype) {
      const op = "layerNormGrad";
      return fused.layerNormGrad(
        e,
        buf(op, g),
        buf(op, x),
        buf(op, w),
        buf(op, mean),
        buf(op, rstd),
        rows,
        cols,
        dtype,
      );
    },
    // Flash-style attention keeps no [B, H, T, Tk] scores (the memory that long contexts run
    // out of); on software adapters its one-thread-per-row loops ran 2.6x (forward) to 3.8x
    // (forward + backward) slower than the tiled matmuls of the composed form (bench/attention.ts).
    sumOfSquares(bufs, sizes, dtype) {
      return fused.sumOfSquares(e, bufs.map((b) => buf("sumOfSquares", b)), sizes, dtype);
    },
    get prefersFusedAttention() {
      return !softwareKernels(e);
    },
    attention(q, k, v, mask, spec, dtype) {
      const op = "attention";
      const m = mask === null ? null : buf(op, mask);
      return attn.attention(e, buf(op, q), buf(op, k), buf(op, v), m, spec, dtype);
    },
    attentionGrad(q, k, v, mask, out, lse, g, spec, dtype) {
      const op = "attentionGrad";
      const m = mask === null ? null : buf(op, mask);
      const [qb, kb, vb] = [buf(op, q), buf(op, k), buf(op, v)];
      return attn.attentionGrad(
        e,
        qb,
        kb,
        vb,
        m,
        buf(op, out),
        buf(op, lse),
        buf(op, g),
        spec,
        dtype,
      );
    },
    memory() {
      const s = e.getStats();
      return { buffers: s.liveBuffers, bytes: s.liveBytes };
    },
    flush() {
      e.flush();
    },
  };
}
