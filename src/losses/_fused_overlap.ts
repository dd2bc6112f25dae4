/**
 * The fused WebGPU path of the Dice family's soft counts: per group (sequence) g and class
 * c, S(p)_gc, S(py)_gc and S(y)_gc over the counted positions, in one pass over the `[N, C]`
 * logits (given each row's log-sum-exp). Each thread owns a class column and walks a chunk
 * of rows, so reads are coalesced; the chunks' partial sums are then added.
 *
 * Backward: with a_c = dL/dS(p)_c and b_c = dL/dS(py)_c of the row's group, and
 * s_i = Σ_c p_ic a_c + p_it b_t, dL/dz_ic = p_ic (a_c + b_c [c = t_i] - s_i) at counted
 * positions (0 elsewhere): one row kernel. Private to `src/losses`.
 * @module
 */
import { customGrad, reshape, slice, sum, type Tensor } from "../autograd/mod.ts";
import { runRowKernel } from "../gpu/mod.ts";
import { grid2d, kernelWgsl, WG } from "../gpu/kernels/common.ts";
import {
  BLOCK_SUM_WGSL,
  ROW_LSE_WGSL,
  rowKernelWgsl,
  rowLogSumExp,
  rowParams,
} from "./_fused_common.ts";

/** Rows each thread of the column-sum kernel walks. */
const ROWS = 64;

/** The count rows: S(p), S(py), S(y), and with `squared` S(p²), S(p² y). */
const rowsOf = (squared: boolean) => (squared ? 5 : 3);

// Params: P(0) = n, P(1) = c, P(2) = positions per group T, P(3) = chunks per group.
function sumsWgsl(squared: boolean) {
  const r = rowsOf(squared);
  return kernelWgsl({
    inputs: [["logits", "f32"], ["targets", "i32"], ["valid", "f32"], ["lse", "f32"]],
    outputs: [["partial", "f32"]],
    grid: "free",
    body: `let c = P(1u);
  let col = wid.x * ${WG}u + lid;
  let chunk = wid.z * nwg.y + wid.y;
  let per = P(2u);
  let chunks = P(3u);
  if (col >= c || chunk >= (P(0u) / per) * chunks) { return; }
  let g = chunk / chunks;
  let start = g * per + (chunk % chunks) * ${ROWS}u;
  let end = min(start + ${ROWS}u, (g + 1u) * per);
  // This dispatch sees rows [r0, r0 + rn) (a window of the logits). A cell that starts
  // here writes its sums; one that started in an earlier window adds to them.
  let lo = max(start, P(8u));
  let hi = min(end, P(8u) + P(9u));
  if (lo >= hi) { return; }
  var sp = 0.0;
  var tp = 0.0;
  var sy = 0.0;${squared ? "\n  var sp2 = 0.0;\n  var tp2 = 0.0;" : ""}
  for (var i = lo; i < hi; i++) {
    if (valid[i] != 0.0) {
      let p = exp(logits[(i - P(8u)) * c + col] - lse[i]);
      sp += p;${squared ? "\n      sp2 += p * p;" : ""}
      if (u32(targets[i]) == col) {
        tp += p;
        sy += 1.0;${squared ? "\n        tp2 += p * p;" : ""}
      }
    }
  }
  let o = chunk * ${r}u * c + col;
  if (start < P(8u)) {
    sp += partial[o];
    tp += partial[o + c];
    sy += partial[o + 2u * c];${
      squared ? "\n    sp2 += partial[o + 3u * c];\n    tp2 += partial[o + 4u * c];" : ""
    }
  }
  partial[o] = sp;
  partial[o + c] = tp;
  partial[o + 2u * c] = sy;${
      squared ? "\n  partial[o + 3u * c] = sp2;\n  partial[o + 4u * c] = tp2;" : ""
    }`,
  });
}

// Params: P(0) = n, P(1) = c, P(2) = positions per group T. With `squared`, the gradient
// rows 3 and 4 (q = dL/dS(p²), r = dL/dS(p² y)) add 2 p q_c and, at the target, 2 p r_t to
// dL/dp.
function backwardWgsl(squared: boolean) {
  const r = rowsOf(squared);
  // dL/dp at column k (the target's extra term is added separately).
  const slope = (p: string, k: string) =>
    squared ? `(grad[ga + ${k}] + 2.0 * ${p} * grad[ga + 3u * c + ${k}])` : `grad[ga + ${k}]`;
  const target = (p: string, k: string) =>
    squared
      ? `(grad[ga + c + ${k}] + 2.0 * ${p} * grad[ga + 4u * c + ${k}])`
      : `grad[ga + c + ${k}]`;
  return rowKernelWgsl({
    inputs: [
      ["logits", "f32"],
      ["targets", "i32"],
      ["valid", "f32"],
      ["lse", "f32"],
      ["grad", "f32"],
    ],
    outputs: [["dlogits", "f32"]],
    helpers: `${ROW_LSE_WGSL}
${BLOCK_SUM_WGSL}`,
    grid: "row",
    body: `let row = P(8u) + local;
  let c = P(1u);
  let base = local * c;
  if (valid[row] == 0.0) {
    for (var k = lid; k < c; k += WG) { dlogits[base + k] = 0.0; }
    return;
  }
  let ga = (row / P(2u)) * ${r}u * c; // dL/dS(p) of the row's group; dL/dS(py) follows
  let m = lse[row];
  let t = u32(targets[row]);${squared ? "\n  let pt = exp(logits[base + t] - m);" : ""}
  var s = 0.0;
  for (var k = lid; k < c; k += WG) {${
      squared
        ? `\n    let pk = exp(logits[base + k] - m);\n    s += pk * ${slope("pk", "k")};`
        : `\n    s += exp(logits[base + k] - m) * grad[ga + k];`
    }
  }
  s = block_sum(s, lid) + ${
      squared ? `pt * ${target("pt", "t")}` : `exp(logits[base + t] - m) * grad[ga + c + t]`
    };
  for (var k = lid; k < c; k += WG) {${
      squared
        ? `\n    let pk = exp(logits[base + k] - m);\n    var d = ${slope("pk", "k")} - s;`
        : `\n    var d = grad[ga + k] - s;`
    }
    if (k == t) { d += ${target(squared ? "pk" : "", "k")}; }
    dlogits[base + k] = ${squared ? "pk" : "exp(logits[base + k] - m)"} * d;
  }`,
  });
}

const SUMS_WGSL = [sumsWgsl(false), sumsWgsl(true)];
const BACKWARD_WGSL = [backwardWgsl(false), backwardWgsl(true)];

/**
 * Soft counts `[G, R, C]` (S(p), S(py), S(y), and with `squared` S(p²), S(p² y): R = 5) of
 * float32 webgpu logits `[N, C]` with safe targets `[N]` and counted positions `valid`
 * `[N]`, in `groups` equal groups of positions. Differentiable in the logits.
 */
export function fusedSoftCounts(
  logits: Tensor,
  targets: Tensor,
  valid: Tensor,
  groups: number,
  squared = false,
): Tensor {
  const r = rowsOf(squared);
  const sq = squared ? 1 : 0;
  const [n, c] = logits.shape;
  const per = n / groups;
  const chunks = Math.ceil(per / ROWS);
  const lse = rowLogSumExp(logits);
  const op = customGrad(
    (z, t, v, l) => {
      const cells = groups * chunks;
      const [y, zz] = grid2d(cells);
      const [partial] = runRowKernel({
        key: squared ? "losses_soft_counts_squared" : "losses_soft_counts",
        code: SUMS_WGSL[sq],
        inputs: [z, t, v, l],
        outputs: [{ shape: [groups, chunks, r, c], dtype: "float32" }],
        rows: n,
        rowWidths: [c, 0, 0, 0, 0],
        params: rowParams([n, c, per, chunks]),
        workgroups: () => [Math.ceil(c / WG), y, zz],
      });
      return chunks === 1 ? reshape(partial, [groups, r, c]) : sum(partial, 1);
    },
    (g, _out, z, t, v, l) => [
      runRowKernel({
        key: squared ? "losses_soft_counts_squared_backward" : "losses_soft_counts_backward",
        code: BACKWARD_WGSL[sq],
        inputs: [z, t, v, l, g],
        outputs: [{ shape: [n, c], dtype: "float32" }],
        rows: n,
        rowWidths: [c, 0, 0, 0, 0, c],
        params: rowParams([n, c, per]),
        workgroups: grid2d,
      })[0],
      null,
      null,
      null,
    ],
  );
  return op(logits, targets, valid, lse);
}

/**
 * Row `k` (0: S(p), 1: S(py), 2: S(y), 3: S(p²), 4: S(p² y)) of fused soft counts
 * `[G, R, C]`, as `[G, C]`.
 */
export function countsRow(counts: Tensor, k: number): Tensor {
  const [g, , c] = counts.shape;
  return reshape(slice(counts, [0, k], [g, k + 1]), [g, c]);
}
