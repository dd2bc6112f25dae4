/**
 * The AdamW update as one WGSL kernel per parameter tensor (float32, WebGPU): reads p, g, m,
 * v once and writes p, m, v once, instead of a dozen elementwise dispatches and temporaries.
 * `adam` and `adamw` use it for WebGPU tensors while the fused policy allows it.
 * @module
 */
import type { Tensor } from "../autograd/mod.ts";
import { runKernel } from "../gpu/mod.ts";

/**
 * The hyper-parameters of one Adam step (t counts from 1), as the kernel's params block and
 * the composed `adamwStep` both take them.
 */
export type AdamHyper = { lr: number; b1: number; b2: number; eps: number; wd: number; t: number };

const WORKGROUP = 256;
const MAX_GROUPS = 65535;

/**
 * The kernel's WGSL; `scaled` reads a one-element `scale` that multiplies the gradient first
 * (gradient clipping's factor, which then needs no dispatch of its own).
 */
function code(scaled: boolean): string {
  const o = scaled ? 5 : 4;
  return /* wgsl */ `
struct Params { lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, bc1: f32, bc2: f32, n: u32 }
@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
${scaled ? "@group(0) @binding(4) var<storage, read> scale: array<f32>;" : ""}
@group(0) @binding(${o}) var<storage, read_write> pOut: array<f32>;
@group(0) @binding(${o + 1}) var<storage, read_write> mOut: array<f32>;
@group(0) @binding(${o + 2}) var<storage, read_write> vOut: array<f32>;
@group(0) @binding(${o + 3}) var<uniform> params: Params;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ${WORKGROUP}u;
  if (i >= params.n) { return; }
  let gi = g[i]${scaled ? " * scale[0]" : ""};
  let m2 = m[i] * params.b1 + gi * (1.0 - params.b1);
  let v2 = v[i] * params.b2 + gi * gi * (1.0 - params.b2);
  let mHat = m2 / params.bc1;
  let vHat = v2 / params.bc2;
  let decayed = p[i] * (1.0 - params.lr * params.wd);
  pOut[i] = decayed - mHat / (sqrt(vHat) + params.eps) * params.lr;
  mOut[i] = m2;
  vOut[i] = v2;
}
`;
}
const CODE = code(false), SCALED_CODE = code(true);

/** One fused step for float32 tensors on the webgpu backend (same formula as `adamwStep`). */
export function adamwKernelStep(
  p: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  h: AdamHyper,
  scale?: Tensor,
): { p: Tensor; m: Tensor; v: Tensor } {
  const params = new ArrayBuffer(32);
  const view = new DataView(params);
  const floats = [h.lr, h.b1, h.b2, h.eps, h.wd, 1 - Math.pow(h.b1, h.t), 1 - Math.pow(h.b2, h.t)];
  floats.forEach((x, i) => view.setFloat32(4 * i, x, true));
  view.setUint32(28, p.size, true);
  const groups = Math.ceil(p.size / WORKGROUP);
  const x = Math.min(groups, MAX_GROUPS), y = Math.ceil(groups / MAX_GROUPS);
  const out = { shape: p.shape, dtype: p.dtype };
  const [p2, m2, v2] = runKernel({
    key: scale ? "fused_adamw_scaled_f32" : "fused_adamw_f32",
    code: scale ? SCALED_CODE : CODE,
    inputs: scale ? [p, g, m, v, scale] : [p, g, m, v],
    outputs: [out, out, out],
    params,
    workgroups: [x, y],
  });
  return { p: p2, m: m2, v: v2 };
}
