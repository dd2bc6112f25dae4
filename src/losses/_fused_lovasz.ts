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
import { grid2d, paramsWgsl, WG } from "../gpu/kernels/common.ts";
import {
  BLOCK_SUM_WGSL,
  LOVASZ_WEIGHT_WGSL,
  lovaszScanWgsl,
  packParams,
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

const ERROR_BINDINGS = /* wgsl */ `
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> lse: array<f32>;
@group(0) @binding(2) var<storage, read> slots: array<i32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> valid: array<f32>;`;

// Params: P(0) = N, P(1) = C, P(2) = K.
const ERRORS_WGSL = /* wgsl */ `
${ERROR_BINDINGS}
@group(0) @binding(5) var<storage, read_write> errors: array<f32>;
${paramsWgsl(6)}
${ERROR_WGSL}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let li = wg.x * ${WG}u + lid.x;
  let k = wg.z * nwg.y + wg.y;
  if (li >= P(9u) || k >= P(2u)) { return; }
  let i = P(8u) + li;
  var e = -1.0;
  if (valid[i] != 0.0) { e = abs(slot_truth(i, k) - slot_prob(li, i, k)); }
  errors[k * P(0u) + i] = e;
}`;

// dE_ki -> v_ki = p_ki dP_ki, the term both parts of the backward need.
const SLOT_TERM_WGSL = /* wgsl */ `
fn slot_term(li: u32, i: u32, k: u32) -> f32 {
  let d = grad[k * P(0u) + i];
  if (d == 0.0) { return 0.0; }
  let p = slot_prob(li, i, k);
  return p * error_slope(p, slot_truth(i, k)) * d;
}`;

// The bindings and helpers of both backward kernels.
const ERRORS_BACKWARD_HEAD = /* wgsl */ `
${ERROR_BINDINGS}
@group(0) @binding(5) var<storage, read> grad: array<f32>;
@group(0) @binding(6) var<storage, read_write> dlogits: array<f32>;
${paramsWgsl(7)}
${ERROR_WGSL}
${SLOT_TERM_WGSL}`;

// Params: P(0) = N, P(1) = C, P(2) = K. A workgroup per row (GPUs).
const ERRORS_BACKWARD_WGSL = /* wgsl */ `${ERRORS_BACKWARD_HEAD}
const WG: u32 = ${WG}u;
var<workgroup> s_sum: array<f32, ${WG}>;
${BLOCK_SUM_WGSL}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let li = linear_group(wg, nwg);
  if (li >= P(9u)) { return; }
  let i = P(8u) + li;
  let base = li * P(1u);
  if (valid[i] == 0.0) {
    for (var c = lid.x; c < P(1u); c += WG) { dlogits[base + c] = 0.0; }
    return;
  }
  var r = 0.0;
  for (var k = lid.x; k < P(2u); k += WG) { r += slot_term(li, i, k); }
  r = block_sum(r, lid.x);
  let m = lse[i];
  for (var c = lid.x; c < P(1u); c += WG) {
    dlogits[base + c] = -exp(logits[base + c] - m) * r;
  }
  storageBarrier();
  // Slots that share a class (duplicates) carry a zero gradient; skipping zeros keeps
  // these read-modify-writes free of races.
  for (var k = lid.x; k < P(2u); k += WG) {
    let v = slot_term(li, i, k);
    if (v != 0.0) {
      let at = base + u32(slots[k]);
      dlogits[at] = dlogits[at] + v;
    }
  }
}`;

// The same, one thread per row (software adapters).
const ERRORS_BACKWARD_SERIAL_WGSL = /* wgsl */ `${ERRORS_BACKWARD_HEAD}

@compute @workgroup_size(${SERIAL_WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let li = linear_group(wg, nwg) * ${SERIAL_WG}u + lid;
  if (li >= P(9u)) { return; }
  let i = P(8u) + li;
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
  }
}`;

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

// The bindings of both Lovász row kernels, and the ground truth of position i for class cls.
const ROWS_HEAD = /* wgsl */ `
@group(0) @binding(0) var<storage, read> errors: array<f32>;
@group(0) @binding(1) var<storage, read> order: array<i32>;
@group(0) @binding(2) var<storage, read> slots: array<i32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> valid: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
${paramsWgsl(6)}

fn truth(i: u32, cls: i32) -> f32 {
  return select(0.0, 1.0, valid[i] != 0.0 && targets[i] == cls);
}`;

// Params: P(0) = N, P(2) = K. Output row k: [value, g at each original position (N)].
const ROWS_WGSL = lovaszScanWgsl({
  head: ROWS_HEAD,
  setup: "let cls = slots[r];",
  truth: (i) => `truth(${i}, cls)`,
  visit: `out[o + 1u + at] = w;
      if (valid[at] != 0.0) { acc += errors[row + at] * w; }`,
});

// The same, one thread per row k walking the order serially (software adapters).
const ROWS_SERIAL_WGSL = /* wgsl */ `${ROWS_HEAD}
${LOVASZ_WEIGHT_WGSL}

@compute @workgroup_size(${SERIAL_WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let k = linear_group(wg, nwg) * ${SERIAL_WG}u + lid;
  if (k >= P(2u)) { return; }
  let n = P(0u);
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
  out[o] = acc;
}`;

// dE_ki = g_k W_ki from the [K, N + 1] rows [value, W] and their gradient (column 0).
const ROWS_BACKWARD_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<f32>;
@group(0) @binding(2) var<storage, read_write> de: array<f32>;
${paramsWgsl(3)}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let x = linear_group(wg, nwg) * ${WG}u + lid;
  let n = P(0u);
  if (x >= n * P(2u)) { return; }
  let k = x / n;
  let o = k * (n + 1u);
  de[x] = g[o] * rows[o + 1u + (x - k * n)];
}`;

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
