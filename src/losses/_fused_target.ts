/**
 * The fused WebGPU path of the losses that depend on each position's target probability
 * only: cross-entropy (with label smoothing), focal, Self-Adjusting Dice, DFT, the
 * probability family and tempered focal. One kernel reads each row of logits once (an online
 * max / sum of exponentials) and writes per position the loss and what the backward pass
 * needs; the backward kernel writes dL/dz_ic = g_i (A_i p_ic - B_i [c = t_i] - D_i), the
 * form all these gradients take:
 *
 * - cross-entropy: A = 1, B = 1 - e, D = e / C;
 * - focal: A = B = a_t (u^g - g u^(g-1) p_t log p_t), u = 1 - p_t, D = 0;
 * - Self-Adjusting Dice: A = B = -(dL/dq)(dq/dp_t) p_t with q = u^a p_t, D = 0;
 * - DFT: A = B = p_t (the stopped scale), D = 0;
 * - probability family (1 - p_t^a)/a: A = B = p_t^a, D = 0;
 * - tempered focal: A = B = u^g - g u^(g-1) p_t log p_t (stopped), D = 0, with p in the
 *   backward taken at temperature b: softmax(z / b). The forward reads the row a second
 *   time for that log-sum-exp, and stores it in place of the plain one.
 *
 * The composed versions (`*PerPosition`) are the reference; tests assert both agree.
 * Private to `src/losses`.
 * @module
 */
import { customGrad, reshape, slice, type Tensor, tensor } from "../autograd/mod.ts";
import { runRowKernel } from "../gpu/mod.ts";
import { grid2d, WG } from "../gpu/kernels/common.ts";
import {
  ROW_LSE_SERIAL_WGSL,
  ROW_LSE_WGSL,
  rowKernelWgsl,
  rowParams,
  SERIAL_WG,
  serialKernels,
} from "./_fused_common.ts";

/** Which per-position loss the kernel computes. */
export type FusedTargetKind =
  | "crossEntropy"
  | "focal"
  | "selfAdjustingDice"
  | "dft"
  | "probability"
  | "temperedFocal";

/** Settings of the fused per-position losses. */
export interface FusedTargetSettings {
  /** The loss. */
  kind: FusedTargetKind;
  /** Cross-entropy: the label smoothing e. */
  smoothing?: number;
  /** Focal: g; Self-Adjusting Dice: the smoothing g. */
  gamma?: number;
  /** Self-Adjusting Dice: the exponent a; probability family: its a. */
  alpha?: number;
  /** Tempered focal: the temperature b > 0 of the log-probability term (default 1). */
  temperature?: number;
  /** Focal: per-class weights a_c. */
  classWeights?: readonly number[];
}

const KIND_CODE: Record<FusedTargetKind, number> = {
  crossEntropy: 0,
  focal: 1,
  selfAdjustingDice: 2,
  dft: 3,
  probability: 4,
  temperedFocal: 5,
};

/** Floats stored per position: loss, lse, A, B, D. */
const STATS = 5;

// Params: P(0..3) = n, c, kind, has_weights; Pf(4..7) = smoothing e, gamma, alpha, and the
// logits' scale 1/b in the backward's softmax (1 except for tempered focal).
const FORWARD_ARRAYS = {
  inputs: [["logits", "f32"], ["targets", "i32"], ["weights", "f32"]],
  outputs: [["stats", "f32"]],
} as const;

const FINISH_WGSL = /* wgsl */ `
const TINY: f32 = 1e-30;

// vec2(u^e, e u^(e-1)), with u^0 = 1 and slope 0 exactly (focal's u^g, SAD's u^a).
fn pow_slope(u: f32, e: f32) -> vec2<f32> {
  if (e == 0.0) { return vec2<f32>(1.0, 0.0); }
  return vec2<f32>(pow(u, e), e * pow(u, e - 1.0));
}

// (exp(x) - 1) / x for x <= 0 to float32 precision: exp(x) - 1 cancels for small |x|, where
// the series does not (the probability family's (1 - p^a) / a as a -> 0).
fn expm1_over_x(x: f32) -> f32 {
  if (x > -1e-3) { return 1.0 + x * (0.5 + x * (1.0 / 6.0 + x / 24.0)); }
  return (exp(x) - 1.0) / x;
}

// The loss and backward coefficients of a row from its log-sum-exp, its sum of logits and
// (tempered focal) the log-sum-exp of its logits scaled by 1/b.
fn finish(row: u32, base: u32, lse: f32, zsum: f32, lse_scaled: f32) {
  var t = targets[row];
  if (t < 0 || u32(t) >= P(1u)) { t = 0; }
  let logpt = logits[base + u32(t)] - lse;
  let pt = exp(logpt);
  let u = max(1.0 - pt, TINY);
  var loss = 0.0;
  var a = 1.0;
  var b = 1.0;
  var d = 0.0;
  var lse_out = lse;
  if (P(2u) == 0u) {
    let e = Pf(4u);
    let cf = f32(P(1u));
    loss = (1.0 - e) * (-logpt) + e * (lse - zsum / cf);
    b = 1.0 - e;
    d = e / cf;
  } else if (P(2u) == 1u) {
    let g = Pf(5u);
    let fd = pow_slope(u, g);
    let f = fd.x;
    let df = fd.y;
    var w = 1.0;
    if (P(3u) != 0u) { w = weights[u32(t)]; }
    loss = -w * f * logpt;
    a = w * (f - df * pt * logpt);
    b = a;
  } else if (P(2u) == 2u) {
    let g = Pf(5u);
    let al = Pf(6u);
    let fd = pow_slope(u, al);
    let f = fd.x;
    let df = fd.y;
    let q = f * pt;
    let den = q + 1.0 + g;
    loss = 1.0 - (2.0 * q + g) / den;
    let dl_dq = -(2.0 + g) / (den * den);
    let dq_dp = f - df * pt;
    a = -dl_dq * dq_dp * pt;
    b = a;
  } else if (P(2u) == 3u) {
    loss = -pt * logpt;
    a = pt;
    b = a;
  } else if (P(2u) == 4u) {
    let al = Pf(6u);
    loss = -logpt * expm1_over_x(al * logpt);
    a = exp(al * logpt);
    b = a;
  } else {
    let g = Pf(5u);
    let fd = pow_slope(u, g);
    a = fd.x - fd.y * pt * logpt;
    b = a;
    let logq = logits[base + u32(t)] * Pf(7u) - lse_scaled;
    loss = -a * logq / Pf(7u);
    lse_out = lse_scaled;
  }
  let o = row * ${STATS}u;
  stats[o] = loss;
  stats[o + 1u] = lse_out;
  stats[o + 2u] = a;
  stats[o + 3u] = b;
  stats[o + 4u] = d;
}`;

/**
 * Tempered focal's log Σ_c exp(s z_c), a second read of the row: the shared `row_lse` has no
 * scale, and scaling the logits beforehand would write and read a whole `[N, C]` tensor.
 * Uses ROW_LSE_WGSL's `lse_step` and workgroup arrays.
 */
const ROW_LSE_SCALED_WGSL = /* wgsl */ `
fn row_lse_scaled(base: u32, c: u32, lid: u32, s: f32) -> f32 {
  var a = vec3<f32>(LOWEST, 0.0, 0.0);
  for (var k = lid; k < c; k += WG) { a = lse_step(a, s * logits[base + k]); }
  s_max[lid] = a.x;
  s_sum[lid] = a.y;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (lid < k) {
      let m1 = s_max[lid];
      let m2 = s_max[lid + k];
      let mm = max(m1, m2);
      s_sum[lid] = s_sum[lid] * exp(m1 - mm) + s_sum[lid + k] * exp(m2 - mm);
      s_max[lid] = mm;
    }
    workgroupBarrier();
  }
  let out = s_max[0] + log(s_sum[0]);
  workgroupBarrier();
  return out;
}`;

/** The same computed by one thread (uses ROW_LSE_SERIAL_WGSL's `lse_step`). */
const ROW_LSE_SCALED_SERIAL_WGSL = /* wgsl */ `
fn row_lse_scaled_serial(base: u32, c: u32, s: f32) -> f32 {
  var a = vec3<f32>(-3.4028235e38, 0.0, 0.0);
  for (var k = 0u; k < c; k++) { a = lse_step(a, s * logits[base + k]); }
  return a.x + log(a.y);
}`;

/** One workgroup per row (GPUs: the row's logits are read by all threads at once). */
const FORWARD_WGSL = rowKernelWgsl({
  ...FORWARD_ARRAYS,
  helpers: `${FINISH_WGSL}
${ROW_LSE_WGSL}
${ROW_LSE_SCALED_WGSL}`,
  grid: "row",
  body: `let base = local * P(1u);
  let r = row_lse(base, P(1u), lid);
  var ls = r.x;
  if (P(2u) == 5u) { ls = row_lse_scaled(base, P(1u), lid, Pf(7u)); }
  if (lid != 0u) { return; }
  finish(P(8u) + local, base, r.x, r.y, ls);`,
});

/**
 * One thread per row (software adapters: a workgroup per row spends its time in barriers on a
 * CPU; measured on llvmpipe for 2048 rows of 259, about 45 ms against a few).
 */
const FORWARD_SERIAL_WGSL = rowKernelWgsl({
  ...FORWARD_ARRAYS,
  helpers: `${FINISH_WGSL}
${ROW_LSE_SERIAL_WGSL}
${ROW_LSE_SCALED_SERIAL_WGSL}`,
  grid: "serialRow",
  threads: SERIAL_WG,
  body: `let base = local * P(1u);
  let r = row_lse_serial(base, P(1u));
  var ls = r.x;
  if (P(2u) == 5u) { ls = row_lse_scaled_serial(base, P(1u), Pf(7u)); }
  finish(P(8u) + local, base, r.x, r.y, ls);`,
});

const BACKWARD_ARRAYS = {
  inputs: [["logits", "f32"], ["targets", "i32"], ["stats", "f32"], ["grad", "f32"]],
  outputs: [["dlogits", "f32"]],
} as const;

const BACKWARD_WGSL = rowKernelWgsl({
  ...BACKWARD_ARRAYS,
  grid: "row",
  body: `let row = P(8u) + local;
  let o = row * ${STATS}u;
  let g = grad[o];
  let lse = stats[o + 1u];
  let a = stats[o + 2u];
  let b = stats[o + 3u];
  let d = stats[o + 4u];
  let t = u32(max(targets[row], 0));
  let base = local * P(1u);
  for (var c = lid; c < P(1u); c += ${WG}u) {
    let p = exp(logits[base + c] * Pf(7u) - lse);
    var v = a * p - d;
    if (c == t) { v -= b; }
    dlogits[base + c] = g * v;
  }`,
});

/** One thread per logit (software adapters: a workgroup per row idles most lanes). */
const BACKWARD_SERIAL_WGSL = rowKernelWgsl({
  ...BACKWARD_ARRAYS,
  index: "i",
  count: "P(9u) * P(1u)",
  body: `let local = i / P(1u);
  let c = i - local * P(1u);
  let row = P(8u) + local;
  let o = row * ${STATS}u;
  let p = exp(logits[i] * Pf(7u) - stats[o + 1u]);
  var v = stats[o + 2u] * p - stats[o + 4u];
  if (c == u32(max(targets[row], 0))) { v -= stats[o + 3u]; }
  dlogits[i] = grad[o] * v;`,
});

/**
 * Per-position loss values `[N]` of the fused kernel for float32 webgpu logits `[N, C]` and
 * safe int32 targets `[N]` (ignored positions hold any class id; the caller masks them).
 * Differentiable in the logits through a hand-written backward kernel.
 */
export function fusedTargetLoss(
  settings: FusedTargetSettings,
  logits: Tensor,
  targets: Tensor,
): Tensor {
  const [n, c] = logits.shape;
  const p = rowParams(
    [n, c, KIND_CODE[settings.kind], settings.classWeights ? 1 : 0],
    [
      settings.smoothing ?? 0,
      settings.gamma ?? 0,
      settings.alpha ?? 0,
      1 / (settings.temperature ?? 1),
    ],
  );
  const weights = tensor(settings.classWeights ? [...settings.classWeights] : [0], {
    backend: "webgpu",
  });
  const serial = serialKernels();
  const op = customGrad(
    (z, t, w) =>
      runRowKernel({
        key: serial ? "losses_target_forward_serial" : "losses_target_forward",
        code: serial ? FORWARD_SERIAL_WGSL : FORWARD_WGSL,
        inputs: [z, t, w],
        outputs: [{ shape: [n, STATS], dtype: "float32" }],
        rows: n,
        rowWidths: [c, 0, 0, 0],
        params: p,
        workgroups: (rows) => grid2d(serial ? Math.ceil(rows / SERIAL_WG) : rows),
      })[0],
    (g, stats, z, t) => [
      runRowKernel({
        key: serial ? "losses_target_backward_serial" : "losses_target_backward",
        code: serial ? BACKWARD_SERIAL_WGSL : BACKWARD_WGSL,
        inputs: [z, t, stats, g],
        outputs: [{ shape: [n, c], dtype: "float32" }],
        rows: n,
        rowWidths: [c, 0, 0, 0, c],
        params: p,
        workgroups: (rows) => grid2d(serial ? Math.ceil((rows * c) / WG) : rows),
      })[0],
      null,
      null,
    ],
  );
  const stats = op(logits, targets, weights);
  return reshape(slice(stats, [0, 0], [n, 1]), [n]);
}
