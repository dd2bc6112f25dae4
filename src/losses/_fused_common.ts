/**
 * Shared pieces of the fused WebGPU kernels: the per-row online log-sum-exp in WGSL, the
 * params block's layout, the Lovász sorted scan, and a kernel that returns log Σ_c exp(z_ic)
 * per row. Workgroup size, grid folding and the params block are src/gpu/kernels/common.ts's.
 * Private to `src/losses`.
 * @module
 */
import { backendInstance, type Tensor } from "../autograd/mod.ts";
import { runRowKernel } from "../gpu/mod.ts";
import { fusedPolicy } from "../autograd/fused.ts";
import {
  f32Bits,
  grid2d,
  type KernelWgsl,
  kernelWgsl,
  params,
  putWords,
  softwareKernels,
  WG,
  type WgslArray,
} from "../gpu/kernels/common.ts";
import type { EngineBackend } from "../gpu/backend.ts";

/**
 * Packs the params block every loss kernel declares (`paramsWgsl` of src/gpu/kernels/common.ts,
 * read with `P(i)` / `Pf(i)`): four u32 at words 0-3 (`u`), four f32 at words 4-7 (`f`), then
 * the chunk of rows of a row kernel run by `runRowKernel`: its first row at word 8 and its
 * row count at word 9 (buffers windowed by rows are indexed at the local row `row - P(8)`).
 * Kernels read the words they need.
 */
export function packParams(
  u: readonly number[],
  f: readonly number[] = [],
  row0 = 0,
  rows = 0,
): Uint32Array {
  const p = params();
  putWords(p, 0, u);
  putWords(p, 4, f.map(f32Bits));
  p[8] = row0;
  p[9] = rows;
  return p;
}

/** The params of a row kernel's chunks: `packParams(u, f, row0, rows)`. */
export function rowParams(
  u: readonly number[],
  f: readonly number[] = [],
): (row0: number, rows: number) => Uint32Array {
  return (row0, rows) => packParams(u, f, row0, rows);
}

/**
 * WGSL: `lse_step(a, z)`, one step of an online log-sum-exp: `a` = (max, Σ exp(z - max), Σ z)
 * before reading `z`, returned after it. NaN propagates into the sum.
 */
const LSE_STEP_WGSL = /* wgsl */ `
fn lse_step(a: vec3<f32>, z: f32) -> vec3<f32> {
  var m = a.x;
  var s = a.y;
  if (z > m) {
    s = s * exp(m - z);
    m = z;
  }
  return vec3<f32>(m, s + exp(z - m), a.z + z);
}`;

/**
 * WGSL: `row_lse(base, c, lid)` returns vec2(log Σ exp(z), Σ z) of the row starting at
 * `logits[base]`, for a workgroup of WG threads (every thread gets the result). Needs a
 * `logits` binding. An online max and sum of exponentials: one read of the row; NaN
 * propagates.
 */
export const ROW_LSE_WGSL = /* wgsl */ `
const WG: u32 = ${WG}u;
const LOWEST: f32 = -3.4028235e38;
var<workgroup> s_max: array<f32, ${WG}>;
var<workgroup> s_sum: array<f32, ${WG}>;
var<workgroup> s_z: array<f32, ${WG}>;

${LSE_STEP_WGSL}

fn row_lse(base: u32, c: u32, lid: u32) -> vec2<f32> {
  var a = vec3<f32>(LOWEST, 0.0, 0.0);
  for (var k = lid; k < c; k += WG) { a = lse_step(a, logits[base + k]); }
  s_max[lid] = a.x;
  s_sum[lid] = a.y;
  s_z[lid] = a.z;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (lid < k) {
      let m1 = s_max[lid];
      let m2 = s_max[lid + k];
      let mm = max(m1, m2);
      s_sum[lid] = s_sum[lid] * exp(m1 - mm) + s_sum[lid + k] * exp(m2 - mm);
      s_max[lid] = mm;
      s_z[lid] += s_z[lid + k];
    }
    workgroupBarrier();
  }
  let out = vec2<f32>(s_max[0] + log(s_sum[0]), s_z[0]);
  workgroupBarrier();
  return out;
}`;

/**
 * WGSL: `row_lse_serial(base, c)`, the same vec2(log Σ exp(z), Σ z) computed by one thread
 * (kernels for software adapters, which run one row per SIMD lane). Needs a `logits` binding.
 */
export const ROW_LSE_SERIAL_WGSL = /* wgsl */ `
${LSE_STEP_WGSL}

fn row_lse_serial(base: u32, c: u32) -> vec2<f32> {
  var a = vec3<f32>(-3.4028235e38, 0.0, 0.0);
  for (var k = 0u; k < c; k++) { a = lse_step(a, logits[base + k]); }
  return vec2<f32>(a.x + log(a.y), a.z);
}`;

/** Threads per workgroup of the one-thread-per-row kernels for software adapters. */
export const SERIAL_WG = 64;

/**
 * Whether the kernels for software adapters run (one thread per row or per element instead
 * of a workgroup per row: on a CPU a workgroup spends its time in barriers).
 */
export function serialKernels(): boolean {
  return softwareKernels((backendInstance("webgpu") as EngineBackend).engine);
}

/**
 * WGSL: a block-wide sum of one f32 per thread (every thread gets the result). Uses the
 * `s_sum` workgroup array of ROW_LSE_WGSL.
 */
export const BLOCK_SUM_WGSL = /* wgsl */ `
fn block_sum(v: f32, lid: u32) -> f32 {
  s_sum[lid] = v;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k = k / 2u) {
    if (lid < k) { s_sum[lid] += s_sum[lid + k]; }
    workgroupBarrier();
  }
  let out = s_sum[0];
  workgroupBarrier();
  return out;
}`;

/**
 * WGSL: `lovasz_weight(total, cy, j, y)`, the Lovász-extension weight g_j = J_j - J_(j-1) of
 * sorted position j (0-based) from the row's positives `total`, the positives up to and
 * including j (`cy`) and this position's target `y`.
 */
export const LOVASZ_WEIGHT_WGSL = /* wgsl */ `
fn lovasz_weight(total: f32, cy: f32, j: u32, y: f32) -> f32 {
  let cn = f32(j + 1u) - cy;
  let jac = 1.0 - (total - cy) / (total + cn);
  let union_prev = total + cn - (1.0 - y);
  var jac_prev = 0.0;
  if (union_prev > 0.0) { jac_prev = 1.0 - (total - cy + y) / union_prev; }
  return jac - jac_prev;
}`;

/**
 * WGSL: `tile_scan(v, lid)`, an inclusive prefix sum of one f32 per thread over the workgroup
 * (uses a `s_scan` workgroup array of WG floats; call it from uniform control flow).
 */
const TILE_SCAN_WGSL = /* wgsl */ `
fn tile_scan(v: f32, lid: u32) -> f32 {
  s_scan[lid] = v;
  workgroupBarrier();
  for (var d = 1u; d < WG; d = d * 2u) {
    var u = 0.0;
    if (lid >= d) { u = s_scan[lid - d]; }
    workgroupBarrier();
    s_scan[lid] += u;
    workgroupBarrier();
  }
  return s_scan[lid];
}`;

/**
 * `kernelWgsl` for a kernel run by `runRowKernel` over chunks of rows: by default its work
 * index `local` is the row within the chunk, bounded by the chunk's row count P(9) (see
 * `packParams`; the chunk's first row is P(8)).
 */
export function rowKernelWgsl(spec: KernelWgsl): string {
  return kernelWgsl({ index: "local", count: "P(9u)", ...spec });
}

/** What the two Lovász sorted-scan kernels (hinge, Lovász-Softmax) differ in. */
export interface LovaszScan {
  /** Read-only bindings (an `order: array<i32>` among them); `out: array<f32>` follows. */
  inputs: readonly WgslArray[];
  /** WGSL functions the other fields use. */
  helpers?: string;
  /** Statements run first for row `r` (e.g. reading the row's class). */
  setup?: string;
  /** The f32 ground truth of the row's original position `i` (a WGSL expression of it). */
  truth: (i: string) => string;
  /**
   * Statements at sorted position `j` of the row: original position `at`, its target `y`,
   * its Lovász weight `w`; they add the row's value into `acc` and may write `out`.
   */
  visit: string;
}

/**
 * WGSL of a Lovász sorted-scan kernel, one workgroup per row r of P(2) rows of P(0) positions:
 * the row's positives, then a walk over its descending `order` a tile of WG at a time (an
 * inclusive scan of the sorted ground truth inside the tile plus the positives of the tiles
 * before) that gives each position its Lovász weight g_j = J_j - J_(j-1), and the row's
 * value Σ `acc` written at `out[r * (P(0) + 1)]`.
 */
export function lovaszScanWgsl(spec: LovaszScan): string {
  return kernelWgsl({
    inputs: spec.inputs,
    outputs: [["out", "f32"]],
    helpers: `${spec.helpers ?? ""}
const WG: u32 = ${WG}u;
var<workgroup> s_sum: array<f32, ${WG}>;
var<workgroup> s_scan: array<f32, ${WG}>;
${BLOCK_SUM_WGSL}
${TILE_SCAN_WGSL}
${LOVASZ_WEIGHT_WGSL}`,
    grid: "row",
    index: "r",
    count: "P(2u)",
    body: `let n = P(0u);
  ${spec.setup ?? ""}
  let row = r * n;
  let o = r * (n + 1u);
  // G: the positives of this row.
  var g_part = 0.0;
  for (var i = lid; i < n; i += WG) { g_part += ${spec.truth("i")}; }
  let total = block_sum(g_part, lid);
  var carry = 0.0;
  var acc = 0.0;
  for (var start = 0u; start < n; start += WG) {
    let j = start + lid;
    var y = 0.0;
    var at = 0u;
    if (j < n) {
      at = u32(order[row + j]);
      y = ${spec.truth("at")};
    }
    let cy = carry + tile_scan(y, lid);
    let tile = s_scan[WG - 1u];
    workgroupBarrier();
    carry += tile;
    if (j < n) {
      let w = lovasz_weight(total, cy, j, y);
      ${spec.visit}
    }
  }
  let value = block_sum(acc, lid);
  if (lid == 0u) { out[o] = value; }`,
  });
}

const LSE_ARRAYS = {
  inputs: [["logits", "f32"]],
  outputs: [["lse", "f32"]],
} as const;

const LSE_WGSL = rowKernelWgsl({
  ...LSE_ARRAYS,
  helpers: ROW_LSE_WGSL,
  grid: "row",
  body: `let r = row_lse(local * P(1u), P(1u), lid);
  if (lid == 0u) { lse[P(8u) + local] = r.x; }`,
});

const LSE_SERIAL_WGSL = rowKernelWgsl({
  ...LSE_ARRAYS,
  helpers: ROW_LSE_SERIAL_WGSL,
  grid: "serialRow",
  threads: SERIAL_WG,
  body: "lse[P(8u) + local] = row_lse_serial(local * P(1u), P(1u)).x;",
});

/** log Σ_c exp(z_ic) per row of float32 webgpu logits `[N, C]`: `[N]`, no gradient. */
export function rowLogSumExp(logits: Tensor): Tensor {
  const [n, c] = logits.shape;
  const serial = serialKernels();
  return runRowKernel({
    key: serial ? "losses_row_lse_serial" : "losses_row_lse",
    code: serial ? LSE_SERIAL_WGSL : LSE_WGSL,
    inputs: [logits],
    outputs: [{ shape: [n], dtype: "float32" }],
    rows: n,
    rowWidths: [c, 0],
    params: rowParams([n, c]),
    workgroups: (rows) => grid2d(serial ? Math.ceil(rows / SERIAL_WG) : rows),
  })[0];
}

/**
 * Whether a loss should take its fused kernel: the fused policy allows it (its switch is on
 * and the loss's `fused` option is not false) and the logits are float32 on the webgpu
 * backend.
 */
export function useFused(logits: Tensor, fused: boolean | undefined): boolean {
  return fusedPolicy.choose("loss", fused) && logits.dtype === "float32" &&
    logits.backend.name === "webgpu";
}
