/**
 * The AdamW update as one WGSL kernel per parameter tensor (float32, WebGPU): reads p, g, m,
 * v once and writes p, m, v once, instead of a dozen elementwise dispatches and temporaries.
 * `adam` and `adamw` use it for WebGPU tensors while the fused policy allows it.
 * @module
 */
import type { Tensor } from "../autograd/mod.ts";
import { runKernel } from "../gpu/mod.ts";
import {
  f32Bits,
  grid2d,
  MAIN_1D,
  params,
  paramsWgsl,
  putWords,
  WG,
} from "../gpu/kernels/common.ts";

/**
 * The hyper-parameters of one Adam step (t counts from 1), as the kernel's params block and
 * the composed `adamwStep` both take them.
 */
export type AdamHyper = { lr: number; b1: number; b2: number; eps: number; wd: number; t: number };

/**
 * The kernel's WGSL; `scaled` reads a one-element `scale` that multiplies the gradient first
 * (gradient clipping's factor, which then needs no dispatch of its own). Params (see
 * `adamwKernelStep`): Pf(0..6) = lr, β₁, β₂, ε, λ, 1 - β₁ᵗ, 1 - β₂ᵗ; P(7) = elements.
 */
function code(scaled: boolean): string {
  const o = scaled ? 5 : 4;
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
${scaled ? "@group(0) @binding(4) var<storage, read> scale: array<f32>;" : ""}
@group(0) @binding(${o}) var<storage, read_write> pOut: array<f32>;
@group(0) @binding(${o + 1}) var<storage, read_write> mOut: array<f32>;
@group(0) @binding(${o + 2}) var<storage, read_write> vOut: array<f32>;
${paramsWgsl(o + 3)}
${MAIN_1D}
  if (i >= P(7u)) { return; }
  let lr = Pf(0u); let b1 = Pf(1u); let b2 = Pf(2u); let eps = Pf(3u); let wd = Pf(4u);
  let gi = g[i]${scaled ? " * scale[0]" : ""};
  let m2 = m[i] * b1 + gi * (1.0 - b1);
  let v2 = v[i] * b2 + gi * gi * (1.0 - b2);
  let mHat = m2 / Pf(5u);
  let vHat = v2 / Pf(6u);
  let decayed = p[i] * (1.0 - lr * wd);
  pOut[i] = decayed - mHat / (sqrt(vHat) + eps) * lr;
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
  const words = params();
  const floats = [h.lr, h.b1, h.b2, h.eps, h.wd, 1 - Math.pow(h.b1, h.t), 1 - Math.pow(h.b2, h.t)];
  putWords(words, 0, floats.map(f32Bits));
  words[7] = p.size;
  const out = { shape: p.shape, dtype: p.dtype };
  const [p2, m2, v2] = runKernel({
    key: scale ? "fused_adamw_scaled_f32" : "fused_adamw_f32",
    code: scale ? SCALED_CODE : CODE,
    inputs: scale ? [p, g, m, v, scale] : [p, g, m, v],
    outputs: [out, out, out],
    params: words,
    workgroups: grid2d(Math.ceil(p.size / WG)),
  });
  return { p: p2, m: m2, v: v2 };
}
