/**
 * Shared pieces of the fused WebGPU kernels: the per-row online log-sum-exp in WGSL, the
 * uniform params block, grid sizes, and a kernel that returns log Σ_c exp(z_ic) per row.
 * Private to `src/losses`.
 * @module
 */
import { getBackendImpl, type Tensor } from "../autograd/mod.ts";
import { runRowKernel, type WebGpuBackend } from "../gpu/mod.ts";
import { fusedPolicy } from "../autograd/fused.ts";
import { softwareKernels } from "../gpu/kernels/common.ts";

/** Threads per workgroup of the row kernels. */
export const WG = 256;
/** Workgroups per grid dimension (WebGPU's per-dimension limit). */
export const MAX_X = 65535;

/** A grid with one workgroup per item, folded into two dimensions past the limit. */
export function grid(items: number): [number, number] {
  return [Math.min(items, MAX_X), Math.ceil(items / MAX_X)];
}

/**
 * The uniform block every loss kernel declares: four u32, four f32, then the chunk of rows
 * of a row kernel run by `runRowKernel` (first row `r0`, `rn` rows; buffers windowed by rows
 * are indexed at the local row `row - r0`). Kernels read the fields they need.
 */
export const PARAMS_WGSL = /* wgsl */ `
struct Params {
  n: u32,
  c: u32,
  u2: u32,
  u3: u32,
  f0: f32,
  f1: f32,
  f2: f32,
  f3: f32,
  r0: u32,
  rn: u32,
}`;

/**
 * Packs the params block. 256 bytes, the size the built-in kernels use: with a smaller
 * block a later built-in dispatch of the same binding layout failed validation ("bound with
 * size 32 where the shader expects 256"), an engine issue reported to src/gpu.
 */
export function packParams(
  u: readonly number[],
  f: readonly number[] = [],
  row0 = 0,
  rows = 0,
): ArrayBuffer {
  const buf = new ArrayBuffer(256);
  const words = new Uint32Array(buf), floats = new Float32Array(buf);
  u.forEach((v, i) => (words[i] = v));
  f.forEach((v, i) => (floats[4 + i] = v));
  words[8] = row0;
  words[9] = rows;
  return buf;
}

/** The params of a row kernel's chunks: `packParams(u, f, row0, rows)`. */
export function rowParams(
  u: readonly number[],
  f: readonly number[] = [],
): (row0: number, rows: number) => ArrayBuffer {
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
  return softwareKernels((getBackendImpl("webgpu") as WebGpuBackend).engine);
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

/** WGSL: `lovasz_weight` alone (see LOVASZ_SCAN_WGSL). */
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
 * WGSL for the Lovász kernels: `tile_scan`, an inclusive prefix sum of one f32 per thread over
 * the workgroup (uses a `s_scan` workgroup array of WG floats; call it from uniform control
 * flow), and `lovasz_weight`, the Lovász-extension weight g_j = J_j - J_(j-1) of sorted
 * position j (0-based) from the row's positives `total`, the positives up to and including j
 * (`cy`) and this position's target `y`.
 */
export const LOVASZ_SCAN_WGSL = /* wgsl */ `
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
}

${LOVASZ_WEIGHT_WGSL}`;

const LSE_HEAD = /* wgsl */ `${PARAMS_WGSL}
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;`;

const LSE_WGSL = /* wgsl */ `${LSE_HEAD}
${ROW_LSE_WGSL}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let local = wg.x + wg.y * ${MAX_X}u;
  if (local >= params.rn) { return; }
  let r = row_lse(local * params.c, params.c, lid.x);
  if (lid.x == 0u) { lse[params.r0 + local] = r.x; }
}`;

const LSE_SERIAL_WGSL = /* wgsl */ `${LSE_HEAD}
${ROW_LSE_SERIAL_WGSL}

@compute @workgroup_size(${SERIAL_WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let local = (wg.x + wg.y * ${MAX_X}u) * ${SERIAL_WG}u + lid;
  if (local >= params.rn) { return; }
  lse[params.r0 + local] = row_lse_serial(local * params.c, params.c).x;
}`;

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
    workgroups: (rows) => grid(serial ? Math.ceil(rows / SERIAL_WG) : rows),
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
