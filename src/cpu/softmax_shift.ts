/**
 * The shift of a numerically stable softmax, shared by the CPU oracle's softmax and its
 * float32 SIMD path so both subtract the same number from a row.
 *
 * @module
 */
import type { TypedArray } from "../autograd/dtype.ts";

/**
 * The shift of a stable softmax over `len` elements from `base`, `stride` apart: their maximum
 * (NaN if any is NaN), or 0 for a row of only -Infinity (whose own maximum would give
 * -Inf - -Inf = NaN).
 */
export function rowShift(x: TypedArray, base: number, len: number, stride: number): number {
  let mx = -Infinity;
  for (let k = 0; k < len; k++) {
    const v = x[base + k * stride];
    if (v > mx || v !== v) mx = v;
  }
  return mx === -Infinity ? 0 : mx;
}
