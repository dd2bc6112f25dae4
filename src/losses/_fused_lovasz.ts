/**
 * The fused WebGPU pieces of Lovász-Softmax. Private to `src/losses`.
 *
 * - `classErrors`: E[k, i] = |y_ki - p_{i, s_k}| with p = exp(z_{i, s_k} - lse_i), the errors
 *   of the K scored classes (slots s) as `[K, N]`, read straight from the logits (no softmax
 *   over `[N, C]`), -1 at ignored positions so they double as the sort key. Backward, per row
 *   i with v_ki = p_ki sign(p_ki - y_ki) dE_ki and r_i = Σ_k v_ki: dz_ic = -p_ic r_i, plus
 *   v_ki at c = s_k, written by one row kernel (a workgroup per row on GPUs, a thread per
 *   row on software adapters), in windows of rows past the binding limit.
 * - `lovaszRows`: for errors `[K, N]` and their descending order, the Lovász extension per
 *   row, Σ_j e_(j) g_j, with the weights g computed on the fly by a scan over the sorted
 *   ground truth (a block-wide scan per row on GPUs, a serial walk on software adapters); it
 *   also stores g at each position's original index, which is the gradient of the row's
 *   value with respect to its errors.
 * @module
 */
import { customGrad, reshape, slice, type Tensor } from "../autograd/mod.ts";
import { runKernel, runRowKernel } from "../gpu/mod.ts";
import { grid2d, kernelWgsl, WG, type WgslArray } from "../gpu/kernels/common.ts";
import {
  BLOCK_SUM_WGSL,
  LOVASZ_WEIGHT_WGSL,
  lovaszScanWgsl,
  packParams,
  rowKernelWgsl,
  rowLogSumExp,
  rowParams,
  SERIAL_WG,
  serialKernels,
} from "./_fused_common.ts";

// The error of slot k at position i, and its derivative with respect to p = p_{i, s_k}.
// Needs logits (a window of rows, read at local row li), lse, slots, targets, valid bindings.
const ERROR_WGSL = /* wgsl */ `
fn slot_prob(li: u32, i: u32, k: u32) -> f32 {
  return exp(logits[li * P(1u) + u32(slots[k])] - lse[i]);
}
fn slot_truth(i: u32, k: u32) -> f32 {
  return select(0.0, 1.0, targets[i] == slots[k]);
}
// d|y - p| / dp = sign(p - y) (0 at p == y), as the composed abs.
fn error_slope(p: f32, y: f32) -> f32 {
  return select(select(0.0, -1.0, p < y), 1.0, p > y);
}`;

const ERROR_INPUTS: readonly WgslArray[] = [
  ["logits", "f32"],
  ["lse", "f32"],
  ["slots", "i32"],
  ["targets", "i32"],
  ["valid", "f32"],
];

// Params: P(0) = N, P(1) = C, P(2) = K.
const ERRORS_WGSL = kernelWgsl({
  inputs: ERROR_INPUTS,
  outputs: [["errors", "f32"]],
  helpers: ERROR_WGSL,
  grid: "free",
  body: `let li = wid.x * ${WG}u + lid;
  let k = wid.z * nwg.y + wid.y;
  if (li >= P(9u) || k >= P(2u)) { return; }
  let i = P(8u) + li;
  var e = -1.0;
  if (valid[i] != 0.0) { e = abs(slot_truth(i, k) - slot_prob(li, i, k)); }
  errors[k * P(0u) + i] = e;`,
});

// dE_ki -> v_ki = p_ki dP_ki, the term both parts of the backward need.
const SLOT_TERM_WGSL = /* wgsl */ `
fn slot_term(li: u32, i: u32, k: u32) -> f32 {
  let d = grad[k * P(0u) + i];
  if (d == 0.0) { return 0.0; }
  let p = slot_prob(li, i, k);
  return p * error_slope(p, slot_truth(i, k)) * d;
}`;

// The bindings and helpers of both backward kernels; their work index `li` is the row in
// the chunk.
const ERRORS_BACKWARD = {
  inputs: [...ERROR_INPUTS, ["grad", "f32"]],
  outputs: [["dlogits", "f32"]],
  index: "li",
} as const;

// Params: P(0) = N, P(1) = C, P(2) = K. A workgroup per row (GPUs).
const ERRORS_BACKWARD_WGSL = rowKernelWgsl({
  ...ERRORS_BACKWARD,
  helpers: `${ERROR_WGSL}
${SLOT_TERM_WGSL}
const WG: u32 = ${WG}u;
var<workgroup> s_sum: array<f32, ${WG}>;
${BLOCK_SUM_WGSL}`,
  grid: "row",
  body: `let i = P(8u) + li;
  let base = li * P(1u);
  if (valid[i] == 0.0) {
    for (var c = lid; c < P(1u); c += WG) { dlogits[base + c] = 0.0; }
    return;
  }
  var r = 0.0;
  for (var k = lid; k < P(2u); k += WG) { r += slot_term(li, i, k); }
  r = block_sum(r, lid);
  let m = lse[i];
  for (var c = lid; c < P(1u); c += WG) {
    dlogits[base + c] = -exp(logits[base + c] - m) * r;
  }
  storageBarrier();
  // Slots that share a class (duplicates) carry a zero gradient; skipping zeros keeps
  // these read-modify-writes free of races.
  for (var k = lid; k < P(2u); k += WG) {
    let v = slot_term(li, i, k);
    if (v != 0.0) {
      let at = base + u32(slots[k]);
      dlogits[at] = dlogits[at] + v;
    }
  }`,
});

// The same, one thread per row (software adapters).
const ERRORS_BACKWARD_SERIAL_WGSL = rowKernelWgsl({
  ...ERRORS_BACKWARD,
  helpers: `${ERROR_WGSL}
${SLOT_TERM_WGSL}`,
  grid: "serialRow",
  threads: SERIAL_WG,
  body: `let i = P(8u) + li;
  let base = li * P(1u);
  var r = 0.0;
  let counted = valid[i] != 0.0;
  if (counted) {
    for (var k = 0u; k < P(2u); k++) { r += slot_term(li, i, k); }
  }
  let m = lse[i];
  for (var c = 0u; c < P(1u); c++) {
    dlogits[base + c] = select(0.0, -exp(logits[base + c] - m) * r, counted);
  }
  if (counted) {
    for (var k = 0u; k < P(2u); k++) {
      let v = slot_term(li, i, k);
      if (v != 0.0) {
        let at = base + u32(slots[k]);
        dlogits[at] = dlogits[at] + v;
      }
    }
  }`,
});

/**
 * Lovász errors `[K, N]` of the slot classes: e_ki = |y_ki - p_ki| with p_ki = p_{i, s_k} =
 * exp(z_{i, s_k} - lse_i) read straight from float32 webgpu logits `[N, C]` (no softmax over
 * `[N, C]`) and y_ki = [t_i = s_k], at counted positions; -1 at ignored ones, so the errors
 * are also the sort key that puts those last. Differentiable in the logits: with
 * v_ki = p_ki sign(p_ki - y_ki) dE_ki and r_i = Σ_k v_ki, dz_ic = -p_ic r_i + Σ_k [c = s_k] v_ki.
 */
export function classErrors(logits: Tensor, slots: Tensor, targets: Tensor, valid: Tensor): Tensor {
  const [n, c] = logits.shape;
  const k = slots.size;
  const lse = rowLogSumExp(logits);
  const p = rowParams([n, c, k]);
  const serial = serialKernels();
  const op = customGrad(
    (z, l, s, t, v) => {
      const [y, zz] = grid2d(k);
      return runRowKernel({
        key: "losses_class_errors",
        code: ERRORS_WGSL,
        inputs: [z, l, s, t, v],
        outputs: [{ shape: [k, n], dtype: "float32" }],
        rows: n,
        rowWidths: [c, 0, 0, 0, 0, 0],
        params: p,
        workgroups: (rows) => [Math.ceil(rows / WG), y, zz],
      })[0];
    },
    (g, _errors, z, l, s, t, v) => [
      runRowKernel({
        key: serial ? "losses_class_errors_backward_serial" : "losses_class_errors_backward",
        code: serial ? ERRORS_BACKWARD_SERIAL_WGSL : ERRORS_BACKWARD_WGSL,
        inputs: [z, l, s, t, v, g],
        outputs: [{ shape: [n, c], dtype: "float32" }],
        rows: n,
        rowWidths: [c, 0, 0, 0, 0, 0, c],
        params: p,
        workgroups: (rows) => grid2d(serial ? Math.ceil(rows / SERIAL_WG) : rows),
      })[0],
      null,
      null,
      null,
      null,
    ],
  );
  return op(logits, lse, slots, targets, valid);
}

// The bindings of both Lovász row kernels (`out` follows), and the ground truth of position i
// for class cls.
const ROWS_INPUTS: readonly WgslArray[] = [
  ["errors", "f32"],
  ["order", "i32"],
  ["slots", "i32"],
  ["targets", "i32"],
  ["valid", "f32"],
];
const ROWS_TRUTH_WGSL = /* wgsl */ `
fn truth(i: u32, cls: i32) -> f32 {
  return select(0.0, 1.0, valid[i] != 0.0 && targets[i] == cls);
}`;

// Params: P(0) = N, P(2) = K. Output row k: [value, g at each original position (N)].
const ROWS_WGSL = lovaszScanWgsl({
  inputs: ROWS_INPUTS,
  helpers: ROWS_TRUTH_WGSL,
  setup: "let cls = slots[r];",
  truth: (i) => `truth(${i}, cls)`,
  visit: `out[o + 1u + at] = w;
      if (valid[at] != 0.0) { acc += errors[row + at] * w; }`,
});

// The same, one thread per row k walking the order serially (software adapters).
const ROWS_SERIAL_WGSL = kernelWgsl({
  inputs: ROWS_INPUTS,
  outputs: [["out", "f32"]],
  helpers: `${ROWS_TRUTH_WGSL}
${LOVASZ_WEIGHT_WGSL}`,
  grid: "serialRow",
  threads: SERIAL_WG,
  index: "k",
  count: "P(2u)",
  body: `let n = P(0u);
  let cls = slots[k];
  let row = k * n;
  let o = k * (n + 1u);
  var total = 0.0;
  for (var i = 0u; i < n; i++) { total += truth(i, cls); }
  var cy = 0.0;
  var acc = 0.0;
  for (var j = 0u; j < n; j++) {
    let at = u32(order[row + j]);
    let y = truth(at, cls);
    cy += y;
    let w = lovasz_weight(total, cy, j, y);
    out[o + 1u + at] = w;
    if (valid[at] != 0.0) { acc += errors[row + at] * w; }
  }
  out[o] = acc;`,
});

// dE_ki = g_k W_ki from the [K, N + 1] rows [value, W] and their gradient (column 0).
const ROWS_BACKWARD_WGSL = kernelWgsl({
  inputs: [["g", "f32"], ["rows", "f32"]],
  outputs: [["de", "f32"]],
  index: "x",
  count: "P(0u) * P(2u)",
  body: `let n = P(0u);
  let k = x / n;
  let o = k * (n + 1u);
  de[x] = g[o] * rows[o + 1u + (x - k * n)];`,
});

/**
 * Per-row Lovász extension values `[K]` of errors `[K, N]` (float32 webgpu, 0 or anything
 * at ignored positions) given their descending `order` `[K, N]` (ignored positions last),
 * the slot classes `[K]`, safe targets `[N]` and counted positions `valid` `[N]`.
 * Differentiable in the errors (the weights are constants).
 */
export function lovaszRows(
  errors: Tensor,
  order: Tensor,
  slots: Tensor,
  targets: Tensor,
  valid: Tensor,
): Tensor {
  const [k, n] = errors.shape;
  const serial = serialKernels();
  const p = packParams([n, 0, k]);
  const op = customGrad(
    (e, o, s, t, v) =>
      runKernel({
        key: serial ? "losses_lovasz_rows_serial" : "losses_lovasz_rows",
        code: serial ? ROWS_SERIAL_WGSL : ROWS_WGSL,
        inputs: [e, o, s, t, v],
        outputs: [{ shape: [k, n + 1], dtype: "float32" }],
        params: p,
        workgroups: grid2d(serial ? Math.ceil(k / SERIAL_WG) : k),
      })[0],
    (g, out) => [
      runKernel({
        key: "losses_lovasz_rows_backward",
        code: ROWS_BACKWARD_WGSL,
        inputs: [g, out],
        outputs: [{ shape: [k, n], dtype: "float32" }],
        params: p,
        workgroups: grid2d(Math.ceil((k * n) / WG)),
      })[0],
      null,
      null,
      null,
      null,
    ],
  );
  return reshape(slice(op(errors, order, slots, targets, valid), [0, 0], [k, 1]), [k]);
}
