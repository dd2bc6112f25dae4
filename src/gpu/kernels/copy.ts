/**
 * Data movement kernels: strided copies (permute, expand, slice) and concat. They move raw
 * 32-bit words, so one pipeline serves float32 and int32.
 * @module
 */
import type { DType } from "../../autograd/dtype.ts";
import { sizeOf } from "../../autograd/shape.ts";
import type { Engine, GpuBuffer } from "../engine.ts";
import {
  checkRank,
  collapse,
  kernelWgsl,
  offsetsWgsl,
  params,
  putWords,
  WG,
  wgslType,
} from "./common.ts";

/** The concat kernel over words of `type` (u32, or vec4<u32> for whole slabs of 4). */
function concatWgsl(type: string): string {
  return kernelWgsl({
    inputs: [["a", type]],
    outputs: [["o", type]],
    body: `let chunk = P(1);
  let row = i / chunk;
  o[row * P(2) + P(3) + (i - row * chunk)] = a[i];`,
  });
}

/** out[idx] = a[offset + sum(idx_d * strides_d)]: a contiguous copy of a strided view. */
export function strided(
  e: Engine,
  a: GpuBuffer,
  outShape: readonly number[],
  strides: readonly number[],
  offset: number,
  dtype: DType,
): GpuBuffer {
  wgslType("strided", dtype);
  const n = sizeOf(outShape);
  const out = e.alloc("strided", n * 4);
  if (n === 0) return out;
  const c = collapse(outShape, [strides]);
  checkRank("strided", c.shape, outShape);
  const k = e.kernel(
    "strided",
    () =>
      kernelWgsl({
        inputs: [["a", "u32"]],
        outputs: [["o", "u32"]],
        body: `${offsetsWgsl(1, 3, [11])}
  o[i] = a[P(2) + off0];`,
      }),
    1,
    1,
  );
  const p = params();
  p[0] = n;
  p[1] = c.shape.length;
  p[2] = offset;
  putWords(p, 3, c.shape, 8);
  putWords(p, 11, c.strides[0], 8);
  e.dispatch("strided", k, [a], [out], p, Math.ceil(n / WG));
  return out;
}

/** Concatenates parts along `axis`: one dispatch per non-empty part, each into its slab. */
export function concat(
  e: Engine,
  parts: readonly { buf: GpuBuffer; shape: readonly number[] }[],
  axis: number,
  outShape: readonly number[],
  dtype: DType,
): GpuBuffer {
  wgslType("concat", dtype);
  const n = sizeOf(outShape);
  const out = e.alloc("concat", n * 4);
  if (n === 0) return out;
  const outer = sizeOf(outShape.slice(0, axis));
  const inner = sizeOf(outShape.slice(axis + 1));
  const rowOut = outShape[axis] * inner;
  const k = e.kernel(
    "concat",
    () => concatWgsl("u32"),
    1,
    1,
  );
  // Whole vec4s when every slab boundary is a multiple of 4 words (4x fewer threads and
  // index divisions; pooled buffers are sized in multiples of 16 bytes).
  const vec = rowOut % 4 === 0 &&
    parts.every((part) => (part.shape[axis] * inner) % 4 === 0);
  const v = vec ? 4 : 1;
  const kv = vec
    ? e.kernel(
      "concat_vec4",
      () => concatWgsl("vec4<u32>"),
      1,
      1,
    )
    : k;
  let start = 0;
  for (const part of parts) {
    const chunk = part.shape[axis] * inner;
    const total = outer * chunk;
    if (total > 0) {
      const p = params();
      p[0] = total / v;
      p[1] = chunk / v;
      p[2] = rowOut / v;
      p[3] = start / v;
      e.dispatch("concat", kv, [part.buf], [out], p, Math.ceil(total / v / WG));
    }
    start += chunk;
  }
  return out;
}
