/**
 * The fused WebGPU pieces of Lovász-Softmax. Private to `src/losses`.
 *
 * - `classProbs`: P[k, i] = p_{i, s_k} = exp(z_{i, s_k} - lse_i), the probabilities of the
 *   K scored classes (slots s) as `[K, N]`, without a softmax over `[N, C]`. Backward, per
 *   row i with r_i = Σ_k P[k, i] dP[k, i]: dz_ic = -p_ic r_i, plus P[k, i] dP[k, i] at
 *   c = s_k, written by one row kernel.
 * - `lovaszRows`: for errors `[K, N]` and their descending order, the Lovász extension per
 *   row, Σ_j e_(j) g_j, with the weights g computed on the fly by a block-wide scan over
 *   the sorted ground truth; it also stores g at each position's original index, which is
 *   the gradient of the row's value with respect to its errors.
 * @module
 */
import { customGrad, mul, reshape, slice, type Tensor } from "../autograd/mod.ts";
import { runKernel, runRowKernel } from "../gpu/mod.ts";
import {
  BLOCK_SUM_WGSL,
  grid,
  LOVASZ_SCAN_WGSL,
  MAX_X,
  packParams,
  PARAMS_WGSL,
  rowLogSumExp,
  rowParams,
  WG,
} from "./_fused_common.ts";

// Params: n = N, c = C, u2 = K.
const PROBS_WGSL = /* wgsl */ `${PARAMS_WGSL}
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> lse: array<f32>;
@group(0) @binding(2) var<storage, read> slots: array<i32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let local = wg.x * ${WG}u + lid.x;
  let k = wg.y + wg.z * ${MAX_X}u;
  if (local >= params.rn || k >= params.u2) { return; }
  let i = params.r0 + local;
  let s = u32(slots[k]);
  probs[k * params.n + i] = exp(logits[local * params.c + s] - lse[i]);
}`;

// Params: n = N, c = C, u2 = K.
const PROBS_BACKWARD_WGSL = /* wgsl */ `${PARAMS_WGSL}
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> lse: array<f32>;
@group(0) @binding(2) var<storage, read> slots: array<i32>;
@group(0) @binding(3) var<storage, read> probs: array<f32>;
@group(0) @binding(4) var<storage, read> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;
const WG: u32 = ${WG}u;
var<workgroup> s_sum: array<f32, ${WG}>;
${BLOCK_SUM_WGSL}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let local = wg.x + wg.y * ${MAX_X}u;
  if (local >= params.rn) { return; }
  let i = params.r0 + local;
  let n = params.n;
  let kk = params.u2;
  var r = 0.0;
  for (var k = lid.x; k < kk; k += WG) { r += probs[k * n + i] * grad[k * n + i]; }
  r = block_sum(r, lid.x);
  let base = local * params.c;
  let m = lse[i];
  for (var c = lid.x; c < params.c; c += WG) {
    dlogits[base + c] = -exp(logits[base + c] - m) * r;
  }
  storageBarrier();
  // Slots that share a class (duplicates) carry a zero gradient; skipping zeros keeps
  // these read-modify-writes free of races.
  for (var k = lid.x; k < kk; k += WG) {
    let v = probs[k * n + i] * grad[k * n + i];
    if (v != 0.0) {
      let at = base + u32(slots[k]);
      dlogits[at] = dlogits[at] + v;
    }
  }
}`;

/**
 * `[K, N]` probabilities of the slot classes from float32 webgpu logits `[N, C]` and int32
 * slots `[K]`; differentiable in the logits.
 */
export function classProbs(logits: Tensor, slots: Tensor): Tensor {
  const [n, c] = logits.shape;
  const k = slots.size;
  const lse = rowLogSumExp(logits);
  const p = rowParams([n, c, k]);
  const op = customGrad(
    (z, l, s) => {
      const [y, zz] = grid(k);
      return runRowKernel({
        key: "losses_class_probs",
        code: PROBS_WGSL,
        inputs: [z, l, s],
        outputs: [{ shape: [k, n], dtype: "float32" }],
        rows: n,
        rowWidths: [c, 0, 0, 0],
        params: p,
        workgroups: (rows) => [Math.ceil(rows / WG), y, zz],
      })[0];
    },
    (g, probs, z, l, s) => [
      runRowKernel({
        key: "losses_class_probs_backward",
        code: PROBS_BACKWARD_WGSL,
        inputs: [z, l, s, probs, g],
        outputs: [{ shape: [n, c], dtype: "float32" }],
        rows: n,
        rowWidths: [c, 0, 0, 0, 0, c],
        params: p,
        workgroups: grid,
      })[0],
      null,
      null,
    ],
  );
  return op(logits, lse, slots);
}

// Params: n = N, u2 = K. Output row k: [value, g at each original position (N)].
const ROWS_WGSL = /* wgsl */ `${PARAMS_WGSL}
@group(0) @binding(0) var<storage, read> errors: array<f32>;
@group(0) @binding(1) var<storage, read> order: array<i32>;
@group(0) @binding(2) var<storage, read> slots: array<i32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
@group(0) @binding(4) var<storage, read> valid: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<uniform> params: Params;
const WG: u32 = ${WG}u;
var<workgroup> s_sum: array<f32, ${WG}>;
var<workgroup> s_scan: array<f32, ${WG}>;
${BLOCK_SUM_WGSL}
${LOVASZ_SCAN_WGSL}

fn truth(i: u32, cls: i32) -> f32 {
  return select(0.0, 1.0, valid[i] != 0.0 && targets[i] == cls);
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let k = wg.x + wg.y * ${MAX_X}u;
  if (k >= params.u2) { return; }
  let n = params.n;
  let cls = slots[k];
  let row = k * n;
  let o = k * (n + 1u);
  // G: the positives of this class.
  var g_part = 0.0;
  for (var i = lid.x; i < n; i += WG) { g_part += truth(i, cls); }
  let total = block_sum(g_part, lid.x);
  // Walk the sorted order a tile at a time: an inclusive scan of y inside the tile plus
  // the positives of the tiles before.
  var carry = 0.0;
  var acc = 0.0;
  for (var start = 0u; start < n; start += WG) {
    let j = start + lid.x;
    var y = 0.0;
    var at = 0u;
    if (j < n) {
      at = u32(order[row + j]);
      y = truth(at, cls);
    }
    let cy = carry + tile_scan(y, lid.x);
    let tile = s_scan[WG - 1u];
    workgroupBarrier();
    carry += tile;
    if (j < n) {
      let w = lovasz_weight(total, cy, j, y);
      out[o + 1u + at] = w;
      if (valid[at] != 0.0) { acc += errors[row + at] * w; }
    }
  }
  let value = block_sum(acc, lid.x);
  if (lid.x == 0u) { out[o] = value; }
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
  const op = customGrad(
    (e, o, s, t, v) =>
      runKernel({
        key: "losses_lovasz_rows",
        code: ROWS_WGSL,
        inputs: [e, o, s, t, v],
        outputs: [{ shape: [k, n + 1], dtype: "float32" }],
        params: packParams([n, 0, k]),
        workgroups: grid(k),
      })[0],
    (g, out) => [
      mul(slice(g, [0, 0], [k, 1]), slice(out, [0, 1], [k, n + 1])),
      null,
      null,
      null,
      null,
    ],
  );
  return reshape(slice(op(errors, order, slots, targets, valid), [0, 0], [k, 1]), [k]);
}
