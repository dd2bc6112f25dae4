/**
 * The position-wise feed-forward networks: GPT-2's two-layer GELU MLP (`c_fc`, `c_proj`,
 * Conv1D layout), the same shape as GPT-NeoX and Falcon name it (`dense_h_to_4h`,
 * `dense_4h_to_h`, `nn.Linear` layout) and Llama's gated SwiGLU (`gate_proj`, `up_proj`,
 * `down_proj`; StableLM's too).
 * @module
 */
import type { DType, Rng, Tensor } from "../autograd/mod.ts";
import { geluExact } from "./activation.ts";
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
  const two = twoLayer(["c_fc", "c_proj"], "in_out", (x) => x.gelu(), true, {
    ...opts,
    hidden: opts.hidden ?? 4 * opts.dim,
  });
  return two as Module<MlpParams>;
}

/**
 * GPT-NeoX and Falcon MLP parameters.
 *
 * @example
 * ```ts
 * import { denseMlp, type DenseMlpParams, rng } from "@lossforge/core";
 * const p: DenseMlpParams = denseMlp({ dim: 4, hidden: 16 }).init(rng(0));
 * console.log(Object.keys(p), p.dense_h_to_4h.weight.shape); // ["dense_h_to_4h", "dense_4h_to_h"] [16, 4]
 * ```
 */
export type DenseMlpParams = { dense_h_to_4h: LinearParams; dense_4h_to_h: LinearParams };

/**
 * The MLP of GPT-NeoX and Falcon: dense_4h_to_h(act(dense_h_to_4h(x))), weights `[out, in]`,
 * biases unless `bias: false` (GPT-NeoX always has them; Falcon's `bias` config decides).
 *
 * @example
 * ```ts
 * import { denseMlp, geluExact, randn, rng } from "@lossforge/core";
 * const m = denseMlp({ dim: 4, hidden: 16, activation: geluExact });
 * console.log(m.apply(m.init(rng(0)), randn([2, 3, 4])).shape); // [2, 3, 4]
 * ```
 */
export function denseMlp(opts: {
  dim: number;
  hidden: number;
  /** Activation between the layers (default `geluExact`, what their configs' "gelu" means). */
  activation?: (x: Tensor) => Tensor;
  bias?: boolean;
  dropout?: number;
  std?: number;
  dtype?: DType;
}): Module<DenseMlpParams> {
  const act = opts.activation ?? geluExact;
  const names = ["dense_h_to_4h", "dense_4h_to_h"] as const;
  return twoLayer(names, "out_in", act, opts.bias ?? true, opts) as Module<DenseMlpParams>;
}

/** Two named projections with an activation between them, the second back to `dim`. */
function twoLayer(
  [up, down]: readonly [string, string],
  layout: WeightLayout,
  act: (x: Tensor) => Tensor,
  bias: boolean,
  opts: {
    dim: number;
    hidden: number;
    dropout?: number;
    std?: number;
    projStd?: number;
    dtype?: DType;
  },
): Module<Record<string, LinearParams>> {
  const { dim, hidden, dtype } = opts;
  const std = opts.std ?? 0.02;
  const proj = (rng: Rng, inDim: number, outDim: number, s: number): LinearParams => {
    const weight = initWeight(rng, inDim, outDim, layout, s, dtype);
    return bias ? { weight, bias: zeros([outDim], { dtype }) } : { weight };
  };
  return {
    init: (rng: Rng) => ({
      [up]: proj(rng, dim, hidden, std),
      [down]: proj(rng, hidden, dim, opts.projStd ?? std),
    }),
    apply: (p: Record<string, LinearParams>, x: Tensor, ctx: ForwardContext = {}): Tensor => {
      const h = act(project(p[up], x, layout, up, ctx));
      return applyDropout(project(p[down], h, layout, down, ctx), opts.dropout ?? 0, ctx);
    },
  };
}

/**
 * Llama's SwiGLU MLP: down(silu(gate(x)) · up(x)), weights `[out, in]`, no biases (another
 * gate activation with `activation`).
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
  /** Activation of the gate (default SiLU). */
  activation?: (x: Tensor) => Tensor;
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
      const gated = project(p.gate_proj, x, layout, "gate_proj", ctx);
      const gate = opts.activation ? opts.activation(gated) : gated.silu();
      const up = project(p.up_proj, x, layout, "up_proj", ctx);
      const out = project(p.down_proj, gate.mul(up), layout, "down_proj", ctx);
      return applyDropout(out, opts.dropout ?? 0, ctx);
    },
  };
}
