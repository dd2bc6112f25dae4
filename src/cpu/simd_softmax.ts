/**
 * The CPU backend's float32 softmax over contiguous rows, with exp in WebAssembly SIMD.
 *
 * @module
 */
import type { SimdMath } from "./simd_math.ts";
import { rowShift } from "./softmax_shift.ts";

/**
 * Float32 softmax (or log-softmax) over contiguous rows with exp in WebAssembly SIMD: each
 * row's maximum is subtracted in a first pass (rows of only -Infinity are shifted by 0, as in
 * the scalar path), exp runs over the whole shifted block, and the row sums accumulate in
 * float64.
 */
export function softmaxRowsF32(
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
