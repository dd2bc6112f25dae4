/**
 * The position-wise feed-forward networks: GPT-2's two-layer GELU MLP (`c_fc`, `c_proj`,
 * Conv1D layout) and Llama's gated SwiGLU (`gate_proj`, `up_proj`, `down_proj`).
 * @module
 */
import type { DType, Rng, Tensor } from "../autograd/mod.ts";
import { applyDropout } from "./dropout.ts";
import { initWeight, type LinearParams, project, type WeightLayout } from "./linear.ts";
import type { ForwardContext, Module } from "./module.ts";
import { zeros } from "../autograd/mod.ts";

/**
 * GPT-2 MLP parameters.
 *
 * @example
 * ```ts
 * import { mlp, type MlpParams, rng } from "@lossforge/core";
 * const p: MlpParams = mlp({ dim: 4 }).init(rng(0));
 * console.log(Object.keys(p), p.c_fc.weight.shape); // ["c_fc", "c_proj"] [4, 16]
 * ```
 */
export type MlpParams = { c_fc: LinearParams; c_proj: LinearParams };

/**
 * Llama MLP parameters.
 *
 * @example
 * ```ts
 * import { gatedMlp, type GatedMlpParams, rng } from "@lossforge/core";
 * const p: GatedMlpParams = gatedMlp({ dim: 4, hidden: 8 }).init(rng(0));
 * console.log(Object.keys(p)); // ["gate_proj", "up_proj", "down_proj"]
 * ```
 */
export type GatedMlpParams = {
  gate_proj: LinearParams;
  up_proj: LinearParams;
  down_proj: LinearParams;
};

/**
 * GPT-2's MLP: c_proj(gelu(c_fc(x))), weights `[in, out]`, hidden 4·dim by default.
 *
 * @example
 * ```ts
 * import { mlp, randn, rng } from "@lossforge/core";
 * const m = mlp({ dim: 4 });
 * console.log(m.apply(m.init(rng(0)), randn([2, 3, 4])).shape); // [2, 3, 4]
 * ```
 */
export function mlp(opts: {
  dim: number;
  hidden?: number;
  dropout?: number;
  std?: number;
  projStd?: number;
  dtype?: DType;
}): Module<MlpParams> {
  const hidden = opts.hidden ?? 4 * opts.dim;
  const layout: WeightLayout = "in_out";
  const std = opts.std ?? 0.02;
  return {
    init: (rng: Rng): MlpParams => ({
      c_fc: {
        weight: initWeight(rng, opts.dim, hidden, layout, std, opts.dtype),
        bias: zeros([hidden], { dtype: opts.dtype }),
      },
      c_proj: {
        weight: initWeight(rng, hidden, opts.dim, layout, opts.projStd ?? std, opts.dtype),
        bias: zeros([opts.dim], { dtype: opts.dtype }),
      },
    }),
    apply: (p: MlpParams, x: Tensor, ctx: ForwardContext = {}): Tensor => {
      const h = project(p.c_fc, x, layout, "c_fc", ctx).gelu();
      return applyDropout(project(p.c_proj, h, layout, "c_proj", ctx), opts.dropout ?? 0, ctx);
    },
  };
}

/**
 * Llama's SwiGLU MLP: down(silu(gate(x)) · up(x)), weights `[out, in]`, no biases.
 *
 * @example
 * ```ts
 * import { gatedMlp, randn, rng } from "@lossforge/core";
 * const m = gatedMlp({ dim: 4, hidden: 8 });
 * console.log(m.apply(m.init(rng(0)), randn([2, 3, 4])).shape); // [2, 3, 4]
 * ```
 */
export function gatedMlp(opts: {
  dim: number;
  hidden: number;
  dropout?: number;
  std?: number;
  dtype?: DType;
}): Module<GatedMlpParams> {
  const layout: WeightLayout = "out_in";
  const std = opts.std ?? 0.02;
  return {
    init: (rng: Rng): GatedMlpParams => ({
      gate_proj: { weight: initWeight(rng, opts.dim, opts.hidden, layout, std, opts.dtype) },
      up_proj: { weight: initWeight(rng, opts.dim, opts.hidden, layout, std, opts.dtype) },
      down_proj: { weight: initWeight(rng, opts.hidden, opts.dim, layout, std, opts.dtype) },
    }),
    apply: (p: GatedMlpParams, x: Tensor, ctx: ForwardContext = {}): Tensor => {
      const gate = project(p.gate_proj, x, layout, "gate_proj", ctx).silu();
      const up = project(p.up_proj, x, layout, "up_proj", ctx);
      const out = project(p.down_proj, gate.mul(up), layout, "down_proj", ctx);
      return applyDropout(out, opts.dropout ?? 0, ctx);
    },
  };
}
