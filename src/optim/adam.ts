/**
 * Adam and AdamW (decoupled weight decay), as torch.optim.AdamW:
 * p ← p (1 - lr·λ); m ← β₁m + (1-β₁)g; v ← β₂v + (1-β₂)g²;
 * p ← p - lr · m̂ / (√v̂ + ε) with m̂ = m / (1-β₁ᵗ), v̂ = v / (1-β₂ᵗ).
 * @module
 */
import { noGrad, scope, type Tensor, type Tree, treeMap, zerosLike } from "../autograd/mod.ts";
import { fusedPolicy } from "../autograd/fused.ts";
import { type AdamHyper, adamwKernelStep } from "./adamw_kernel.ts";
import { type LearningRate, lrAt, type Optimizer, type OptState } from "./types.ts";

/**
 * Options of `adam` and `adamw`.
 *
 * @example
 * ```ts
 * import { adamw, type AdamOptions, tensor } from "@lossforge/core";
 * const step = (o: AdamOptions) => {
 *   const opt = adamw(o), params = { w: tensor([1]) };
 *   return opt.update({ w: tensor([0.5]) }, opt.init(params), params).params.w.item();
 * };
 * console.log(await step({ lr: 0.1 })); // ≈ 0.899: the default weightDecay is 0.01
 * console.log(await step({ lr: 0.1, weightDecay: 0.5 })); // ≈ 0.85
 * ```
 */
export interface AdamOptions {
  /** Learning rate or schedule (default 1e-3). */
  lr?: LearningRate;
  /** β₁, β₂ (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** ε (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay λ (adamw default 0.01; adam: 0). */
  weightDecay?: number;
  /** Which parameters decay (default all); e.g. `(p) => p.rank >= 2` spares biases and norms. */
  decay?: (param: Tensor) => boolean;
}

/**
 * One AdamW step for one tensor (t counts from 1); the fused GPU kernel computes the same.
 *
 * @example
 * ```ts
 * import { tensor, zeros } from "@lossforge/core";
 * import { adamwStep } from "./adam.ts";
 * const h = { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, t: 1 };
 * const r = adamwStep(tensor([1]), tensor([0.5]), zeros([1]), zeros([1]), h);
 * console.log(await r.p.array()); // ≈ [0.9]
 * ```
 */
export function adamwStep(
  p: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  h: AdamHyper,
  scale?: Tensor,
): { p: Tensor; m: Tensor; v: Tensor } {
  if (scale) g = g.mul(scale);
  const m2 = m.mul(h.b1).add(g.mul(1 - h.b1));
  const v2 = v.mul(h.b2).add(g.square().mul(1 - h.b2));
  const mHat = m2.div(1 - Math.pow(h.b1, h.t));
  const vHat = v2.div(1 - Math.pow(h.b2, h.t));
  const decayed = h.wd ? p.mul(1 - h.lr * h.wd) : p;
  const p2 = decayed.sub(mHat.div(vHat.sqrt().add(h.eps)).mul(h.lr));
  return { p: p2, m: m2, v: v2 };
}

/**
 * One tensor's Adam update: new parameter and moments. `scale` (one element), when given,
 * multiplies the gradient first.
 */
export type AdamStepFn = (
  p: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  h: AdamHyper,
  scale?: Tensor,
) => { p: Tensor; m: Tensor; v: Tensor };

/**
 * @internal An Adam-family optimizer over parameter trees, with `step` doing one tensor's
 * update (the composed `adamwStep`, or a fused kernel).
 */
export function adamFamily(
  opts: AdamOptions,
  defaultDecay: number,
  step: AdamStepFn = autoStep,
): Optimizer {
  const [b1, b2] = opts.betas ?? [0.9, 0.999];
  const eps = opts.eps ?? 1e-8, wd = opts.weightDecay ?? defaultDecay;
  return {
    init: <P extends Tree>(params: P): OptState =>
      noGrad(() => ({
        step: 0,
        slots: { m: treeMap((p) => zerosLike(p), params), v: treeMap((p) => zerosLike(p), params) },
      })),
    acceptsGradScale: true,
    update: <P extends Tree>(grads: P, state: OptState, params: P, gradScale?: Tensor) =>
      noGrad(() =>
        scope(() => {
          const lr = lrAt(opts.lr ?? 1e-3, state.step);
          const t = state.step + 1;
          const ms: Tensor[] = [], vs: Tensor[] = [];
          const next = treeMap(
            (p, g, m, v) => {
              const decay = wd && (!opts.decay || opts.decay(p)) ? wd : 0;
              const r = step(p, g, m, v, { lr, b1, b2, eps, wd: decay, t }, gradScale);
              ms.push(r.m);
              vs.push(r.v);
              return r.p;
            },
            params,
            grads,
            state.slots.m as Tree,
            state.slots.v as Tree,
          );
          let i = 0, j = 0;
          const m = treeMap(() => ms[i++], params);
          const v = treeMap(() => vs[j++], params);
          return { params: next, state: { step: t, slots: { m, v } } };
        })
      ),
  };
}

/**
 * Adam (no weight decay unless asked for, then decoupled as AdamW).
 *
 * @example
 * ```ts
 * import { adam, tensor } from "@lossforge/core";
 * const opt = adam({ lr: 0.1 });
 * const params = { w: tensor([1]) };
 * const { params: next } = opt.update({ w: tensor([5]) }, opt.init(params), params);
 * console.log(await next.w.array()); // ≈ [0.9]: Adam's first step is lr · sign(g)
 * ```
 */
export function adam(opts: AdamOptions = {}): Optimizer {
  return adamFamily(opts, 0);
}

/**
 * The step `adam` and `adamw` take: one WGSL kernel for a float32 WebGPU tensor while the fused
 * policy allows it (a dozen elementwise dispatches fewer per parameter), else the composed
 * `adamwStep`.
 */
const autoStep: AdamStepFn = (p, g, m, v, h, scale) => {
  const kernel = fusedPolicy.choose("adamw") && p.backend.name === "webgpu" &&
    p.dtype === "float32" && g.dtype === "float32";
  return kernel ? adamwKernelStep(p, g, m, v, h, scale) : adamwStep(p, g, m, v, h, scale);
};

/**
 * AdamW with decoupled weight decay (default λ = 0.01, as torch). On WebGPU each parameter's
 * update is one kernel while the fused policy allows it (`LOSSFORGE_FUSED=0` composes it).
 *
 * @example
 * ```ts
 * import { adamw, tensor } from "@lossforge/core";
 * const opt = adamw({ lr: 0.1, betas: [0.9, 0.95], weightDecay: 0.1 });
 * const params = { w: tensor([1, 2]) };
 * const { params: next, state } = opt.update({ w: tensor([0.1, -0.2]) }, opt.init(params), params);
 * // First step: each weight moves by lr against its gradient's sign, then decays by lr · wd.
 * console.log(await next.w.array(), state.step); // ≈ [0.89, 2.08] 1
 * ```
 */
export function adamw(opts: AdamOptions = {}): Optimizer {
  return adamFamily(opts, 0.01);
}
