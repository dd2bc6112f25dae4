/**
 * The fused pieces of the Lovász hinge. Private to `src/losses`.
 *
 * For logits z `[R, L]`, ground truth y `[R, L]` (0/1, 0 at ignored positions), counted
 * positions `valid` `[R, L]` and the descending order of the errors e_i = 1 - z_i s_i
 * (s_i = 2 y_i - 1, ignored positions last), each row's value is Σ_k relu(e_π(k)) g_k with
 * the Lovász weights g of the sorted ground truth (constants). Its gradient with respect to
 * z_i is -s_i g_rank(i) [e_i > 0] at counted positions and 0 elsewhere: analytic, with no
 * tape through the sort.
 *
 * - `hingeRowsGpu`: one WGSL kernel per row (float32 webgpu) computes the weights on the
 *   fly with a block-wide scan over the sorted ground truth, the row's value, and the
 *   gradient at each position's original index.
 * - `hingeRowsAnalytic`: the same values and gradient from backend primitives (gather,
 *   scatterAdd) and precomputed weights, for any backend.
 * @module
 */
import {
  concat,
  customGrad,
  gather,
  gt,
  mul,
  noGrad,
  relu,
  reshape,
  scatterAdd,
  slice,
  type Tensor,
  zerosLike,
} from "../autograd/mod.ts";
import { runKernel } from "../gpu/mod.ts";
import { grid2d } from "../gpu/kernels/common.ts";
import { lovaszScanWgsl, packParams } from "./_fused_common.ts";

// Params: P(0) = L, P(2) = R. Output row r: [value, d value / d z at each original position (L)].
const HINGE_ROWS_WGSL = lovaszScanWgsl({
  inputs: [["logits", "f32"], ["truth", "f32"], ["valid", "f32"], ["order", "i32"]],
  truth: (i) => `truth[row + ${i}]`,
  visit: `let s = 2.0 * y - 1.0;
      let e = 1.0 - logits[row + at] * s;
      var dz = 0.0;
      if (valid[row + at] != 0.0 && e > 0.0) {
        acc += e * w;
        dz = -s * w;
      }
      out[o + 1u + at] = dz;`,
});

/** Wraps a forward that returns `[R, L+1]` (value, then the gradient row) as `[R]`. */
function packedRows(
  z: Tensor,
  rest: Tensor[],
  forward: (z: Tensor, ...rest: Tensor[]) => Tensor,
): Tensor {
  const [r, l] = z.shape;
  const op = customGrad(
    forward,
    (g, out) => [
      mul(slice(g, [0, 0], [r, 1]), slice(out, [0, 1], [r, l + 1])),
      ...rest.map(() => null),
    ],
  );
  return reshape(slice(op(z, ...rest), [0, 0], [r, 1]), [r]);
}

/**
 * Per-row Lovász hinge values `[R]` of float32 webgpu logits `[R, L]` (R, L > 0), given
 * float32 ground truth `y` and `valid` `[R, L]` and the int32 descending `order` `[R, L]`
 * of the errors (ignored positions last). Differentiable in the logits.
 */
export function hingeRowsGpu(z: Tensor, y: Tensor, valid: Tensor, order: Tensor): Tensor {
  const [r, l] = z.shape;
  return packedRows(z, [y, valid, order], (zz, yy, vv, oo) =>
    runKernel({
      key: "losses_lovasz_hinge_rows",
      code: HINGE_ROWS_WGSL,
      inputs: [zz, yy, vv, oo],
      outputs: [{ shape: [r, l + 1], dtype: "float32" }],
      params: packParams([l, 0, r]),
      workgroups: grid2d(r),
    })[0]);
}

/**
 * The same as `hingeRowsGpu` on any backend and float dtype, from backend primitives:
 * `weights` `[R, L]` are the Lovász weights of the sorted ground truth.
 */
export function hingeRowsAnalytic(
  z: Tensor,
  y: Tensor,
  valid: Tensor,
  order: Tensor,
  weights: Tensor,
): Tensor {
  const [r] = z.shape;
  return packedRows(z, [y, valid, order, weights], (zz, yy, vv, oo, ww) =>
    noGrad(() => {
      const s = gather(yy, 1, oo).mul(2).sub(1);
      const e = gather(zz, 1, oo).mul(s).neg().add(1);
      const live = gather(vv, 1, oo).mul(gt(e, 0));
      const value = relu(e).mul(live).mul(ww).sum(1, true);
      const dSorted = s.mul(ww).mul(live).neg();
      const dz = scatterAdd(zerosLike(zz), 1, oo, dSorted);
      return concat([reshape(value, [r, 1]), dz], 1);
    }));
}
